/** The pure safety decisions: binary allowlist, minimum versions, loopback endpoints, bwrap and container argv. */
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { binaryAllowed } from '../../workers/safety/allowlist.ts';
import { checkVersion, compareVersions, parseMinVersions, versionIn } from '../../workers/safety/versions.ts';
import { loopbackEndpoint } from '../../workers/sandbox/endpoint.ts';
import { bwrapArgs } from '../../workers/sandbox/bwrap.ts';
import { readableUnderTmp } from '../../workers/isolation.ts';
import { relayWrap } from '../../workers/sandbox/relay.ts';
import { containerArgs } from '../../workers/container/container-args.ts';
import { loadConfig } from '../../lib/config.ts';

describe('binary allowlist: ALLOWED_BINARIES ∩ policy.allowed_binaries', () => {
  it('no lists: everything is allowed', () => {
    expect(binaryAllowed('claude', null, [])).toEqual({ ok: true });
  });
  it('the machine list alone, by basename', () => {
    expect(binaryAllowed('/usr/local/bin/claude', ['claude', 'codex'], []).ok).toBe(true);
    const no = binaryAllowed('bash', ['claude', 'codex'], []);
    expect(no).toEqual({ ok: false, message: expect.stringContaining('not in ALLOWED_BINARIES') });
  });
  it('the job list alone, and both (intersection)', () => {
    expect(binaryAllowed('npm', null, ['git']).ok).toBe(false);
    expect(binaryAllowed('git', ['git', 'claude'], ['git']).ok).toBe(true);
    expect(binaryAllowed('claude', ['git', 'claude'], ['git'])).toEqual({ ok: false, message: expect.stringContaining("policy.allowed_binaries") });
  });
});

describe('MIN_BINARY_VERSIONS', () => {
  it('parses name=version pairs and refuses anything else', () => {
    expect(parseMinVersions('claude=2.0.0, codex=0.100')).toEqual({ claude: '2.0.0', codex: '0.100' });
    expect(parseMinVersions(undefined)).toEqual({});
    expect(() => parseMinVersions('claude>=2')).toThrow(/MIN_BINARY_VERSIONS/);
    expect(() => loadConfig({ MIN_BINARY_VERSIONS: 'claude=latest' }, '/tmp')).toThrow(/claude=latest/);
  });
  it('reads the version out of each CLI\'s --version text', () => {
    expect(versionIn('2.1.197 (Claude Code)')).toBe('2.1.197');
    expect(versionIn('codex-cli 0.169.0')).toBe('0.169.0');
    expect(versionIn('git version 2.39.5')).toBe('2.39.5');
    expect(versionIn('no digits')).toBeNull();
  });
  it('compares numerically, missing parts as 0', () => {
    expect(compareVersions('2.10.0', '2.9.9')).toBe(1);
    expect(compareVersions('2.0', '2.0.0')).toBe(0);
    expect(compareVersions('0.99.1', '0.100')).toBe(-1);
  });
  it('says which binary is too old and what is required', () => {
    expect(checkVersion('claude', '2.0.0', '2.1.197 (Claude Code)')).toEqual({ ok: true, version: '2.1.197' });
    const old = checkVersion('codex', '0.200.0', 'codex-cli 0.169.0');
    expect(old.ok).toBe(false);
    if (!old.ok) expect(old.message).toBe('codex 0.169.0 is older than the required 0.200.0 (MIN_BINARY_VERSIONS); upgrade it');
  });
});

describe('network deny: only a loopback model endpoint can be relayed', () => {
  it('accepts 127.0.0.0/8, localhost and ::1', () => {
    expect(loopbackEndpoint('http://127.0.0.1:4010', 'X')).toEqual({ ok: true, endpoint: { host: '127.0.0.1', port: 4010 } });
    expect(loopbackEndpoint('http://localhost:8080/v1', 'X')).toEqual({ ok: true, endpoint: { host: '127.0.0.1', port: 8080 } });
    expect(loopbackEndpoint('http://[::1]:9', 'X')).toEqual({ ok: true, endpoint: { host: '::1', port: 9 } });
  });
  it('refuses the vendor default, remote hosts and garbage, saying why', () => {
    expect(loopbackEndpoint(null, 'ANTHROPIC_BASE_URL')).toMatchObject({ ok: false, message: expect.stringContaining('ANTHROPIC_BASE_URL is not set') });
    expect(loopbackEndpoint('https://api.openai.com/v1', 'X')).toMatchObject({ ok: false, message: expect.stringContaining('not on loopback') });
    expect(loopbackEndpoint('http://10.0.0.1:80', 'X').ok).toBe(false);
    expect(loopbackEndpoint('::', 'X').ok).toBe(false);
  });
});

describe('bubblewrap argv', () => {
  const spec = { workDir: '/w/ws/j1/work', agentHome: '/w/ws/j1/home/claude', tmpDir: '/w/ws/j1/tmp', hide: ['/w/artifacts', '/w/ws', '/w/var'], network: 'deny' as const };
  const args = bwrapArgs(spec, ['claude', '-p', 'x']);
  it('read-only root, private /tmp, own namespaces; --unshare-net only when denied', () => {
    expect(args.slice(0, 6)).toEqual(['--die-with-parent', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--unshare-net']);
    expect(args).toContain('--cap-drop');
    expect(bwrapArgs({ ...spec, network: 'allow' }, ['x'])).not.toContain('--unshare-net');
    expect(args.join(' ')).toContain('--ro-bind / / --dev /dev --proc /proc --tmpfs /tmp');
  });
  it('hides the job roots, binds only the job\'s three directories back, then makes the hidden roots read-only', () => {
    const s = args.join(' ');
    const i = (t: string): number => s.indexOf(t);
    expect(i('--tmpfs /w/ws ')).toBeLessThan(i('--bind /w/ws/j1/work /w/ws/j1/work'));
    expect(i('--bind /w/ws/j1/tmp /w/ws/j1/tmp')).toBeLessThan(i('--remount-ro /w/ws'));
    expect(args.filter((a) => a === '--bind')).toHaveLength(3);
    expect(s.endsWith('--chdir /w/ws/j1/work --cap-drop ALL -- claude -p x')).toBe(true);
  });
  it('the relay runs the agent behind a loopback listener', () => {
    const argv = relayWrap('/usr/bin/node', '/w/ws/j1/tmp/relay.sock', { host: '127.0.0.1', port: 4010 }, ['claude', '-p', 'x']);
    expect(argv[0]).toBe('/usr/bin/node');
    expect(argv.slice(3)).toEqual(['/w/ws/j1/tmp/relay.sock', '127.0.0.1', '4010', 'claude', '-p', 'x']);
  });
});

describe('container argv', () => {
  const spec = { runtime: 'podman' as const, name: 'orch-x', image: 'localhost/agent:1', workDir: '/w/work', agentHome: '/w/home', tmpDir: '/w/tmp', readOnly: ['/code/sim'], network: 'deny' as const, cpu: 2, memory: '1g', user: '1000:1000', envNames: ['PATH', 'HOME', 'ANTHROPIC_API_KEY', 'TMPDIR'] };
  it('podman: runc, no events, ulimits, non-root, no capabilities, --network none, limits, removed afterwards', () => {
    const a = containerArgs(spec, ['claude', '-p', 'x']);
    expect(a.slice(0, 5)).toEqual(['--runtime', 'runc', '--events-backend', 'none', 'run']);
    const s = a.join(' ');
    for (const part of ['--rm', '--name orch-x', '--user 1000:1000', '--cap-drop ALL', '--network none', '--cpus 2', '--memory 1g', '--ulimit nofile=1024:1024', '--ulimit nproc=4096:4096', '-v /w/work:/w/work:rw', '-v /code/sim:/code/sim:ro', '-w /w/work']) expect(s).toContain(part);
    expect(a.slice(-4)).toEqual(['localhost/agent:1', 'claude', '-p', 'x']);
  });
  it('passes variables by name only (values never in argv), not the host PATH', () => {
    const a = containerArgs(spec, ['x']);
    expect(a).toContain('ANTHROPIC_API_KEY');
    expect(a.some((x) => x.startsWith('ANTHROPIC_API_KEY='))).toBe(false);
    expect(a).not.toContain('PATH');
  });
  it('docker: no podman globals; network allowed: no --network', () => {
    const a = containerArgs({ ...spec, runtime: 'docker', network: 'allow' }, ['x']);
    expect(a[0]).toBe('run');
    expect(a).not.toContain('--network');
  });
});

describe('bubblewrap: an install under /tmp stays usable, hidden roots stay hidden', () => {
  it('re-binds readable dirs after the private /tmp and before the hiding mounts', () => {
    const args = bwrapArgs({ workDir: '/tmp/app/workspaces/j/work', agentHome: '/tmp/app/workspaces/j/home', tmpDir: '/tmp/app/workspaces/j/tmp', hide: ['/tmp/app/workspaces', '/tmp/app/var'], readable: ['/tmp/app'], network: 'allow' }, ['claude']);
    const at = (...seq: string[]): number => args.findIndex((_, i) => seq.every((s, k) => args[i + k] === s));
    expect(at('--tmpfs', '/tmp')).toBeLessThan(at('--ro-bind', '/tmp/app', '/tmp/app'));
    expect(at('--ro-bind', '/tmp/app', '/tmp/app')).toBeLessThan(at('--tmpfs', '/tmp/app/workspaces'));
    expect(at('--tmpfs', '/tmp/app/var')).toBeLessThan(at('--bind', '/tmp/app/workspaces/j/work', '/tmp/app/workspaces/j/work'));
  });

  it('readableUnderTmp keeps only /tmp paths and maps node_modules/.bin to its project', () => {
    const dirs = readableUnderTmp(`/usr/bin:${os.tmpdir()}:/nonexistent-dir`);
    expect(dirs.every((d) => d.startsWith('/tmp/'))).toBe(true);
  });
});
