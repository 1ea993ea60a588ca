/**
 * The secret rules as a specification: every planted kind is found (plain, inside JSON, inside
 * JSON inside JSON as in events.jsonl) and redacted to `[REDACTED:<rule>]`; nothing is found in
 * what real agents print (the simulator speaks their formats), in ordinary ids and hashes, or in
 * this repository's own source files; the stream redactor catches a known value however the
 * output is chunked.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { redactJsonlOutput, redactText, scanText, sensitiveValues, StreamRedactor, SECRET_RULES, type KnownSecret } from '../../runner/secrets.ts';
import { runSim, killSims } from '../helpers/workers-sim.ts';
import { fake, PLANTED, PLANTED_RULES, type Planted } from './corpus.ts';

afterAll(() => killSims());

/** What must not survive: the secret, or for a key block each of its body lines. */
export function leakProbes(p: Planted): string[] {
  if (p.rule === 'private-key') return p.secret.split('\n').filter((l) => !l.startsWith('-----'));
  return [p.secret];
}

describe('secrets: the planted corpus', () => {
  it('covers at least 15 kinds of secrets', () => {
    expect(PLANTED_RULES.length).toBeGreaterThanOrEqual(15);
    for (const rule of PLANTED_RULES) expect(SECRET_RULES.some((r) => r.id === rule)).toBe(true);
  });

  for (const p of PLANTED) {
    it(`${p.rule}: found and redacted plain, in JSON and in JSON-in-JSON`, () => {
      const plain = `before\nvalue: ${p.line} trailing\nafter`;
      const inJson = JSON.stringify({ type: 'assistant', message: { content: [{ type: 'text', text: `here: ${p.line}` }] } });
      const inJsonInJson = JSON.stringify({ type: 'agent:output', data: { line: inJson } });
      for (const text of [plain, inJson, inJsonInJson]) {
        const findings = scanText(text);
        expect(findings.map((f) => f.rule)).toContain(p.rule);
        const { text: red } = redactText(text);
        for (const probe of leakProbes(p)) expect(red.includes(probe) || red.includes(JSON.stringify(probe).slice(1, -1))).toBe(false);
        expect(red).toContain(`[REDACTED:${p.rule}]`);
        expect(scanText(red)).toEqual([]);
        if (text !== plain) expect(() => JSON.parse(red)).not.toThrow();
      }
    });
  }

  it('reports line and column, never the value', () => {
    const gh = PLANTED.find((p) => p.rule === 'github-token')!;
    const findings = scanText(`line one\n  token=${gh.secret}\n`);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ rule: 'github-token', line: 2, column: 9 });
    expect(JSON.stringify(findings)).not.toContain(gh.secret);
  });

  it('finds every secret of a text holding them all, each once', () => {
    const text = PLANTED.map((p) => p.line).join('\n');
    const rules = scanText(text).map((f) => f.rule).sort();
    expect(rules).toEqual(PLANTED.map((p) => p.rule).sort());
  });
});

describe('secrets: output recorded one line per event (events.jsonl)', () => {
  it('finds a private key printed over several agent:output events and redacts it in each', () => {
    const key = PLANTED.find((p) => p.rule === 'private-key')!;
    const ev = (line: string, stream = 'stdout'): string => JSON.stringify({ type: 'agent:output', at: 't', data: { job_id: 'j', step_id: 's1', stream, line } });
    const lines = [JSON.stringify({ type: 'step:started', at: 't', data: { job_id: 'j' } }), ev('cat id_rsa:'), ...key.secret.split('\n').flatMap((l, i) => (i === 2 ? [ev('interleaved', 'stderr'), ev(l)] : [ev(l)])), ev('done')];
    const text = lines.join('\n') + '\n';
    expect(scanText(text).map((f) => f.rule)).toEqual(['private-key']); // the plain pass sees only the header
    const { text: out, findings } = redactJsonlOutput(text);
    expect(findings).toEqual([expect.objectContaining({ rule: 'private-key', line: 3 })]);
    for (const probe of leakProbes(key)) expect(out).not.toContain(probe);
    const parsed = out.trim().split('\n').map((l) => JSON.parse(l) as { type: string; data: { line?: string } });
    expect(parsed).toHaveLength(lines.length);
    expect(parsed.filter((e) => e.data.line === '[REDACTED:private-key]').length).toBeGreaterThan(5);
    expect(parsed.map((e) => e.data.line)).toContain('interleaved');
    expect(redactJsonlOutput(out).findings).toEqual([]);
    expect(redactJsonlOutput(lines.slice(0, 2).join('\n'))).toEqual({ text: lines.slice(0, 2).join('\n'), findings: [] });
  });
});

describe('secrets: no false positives', () => {
  const ordinary = [
    'session_id: 3f2b8c1e-9d4a-4e6f-a1b2-c3d4e5f60718',
    '{"type":"system","subtype":"init","session_id":"0b7a1f9e-2c3d-4a5b-8c7d-9e0f1a2b3c4d","uuid":"5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"}',
    'commit 9fceb02d0ae598e95dc970b74767f19372d61af8',
    'sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    'Merge: 1a2b3c4 5d6e7f8',
    'thread_id 019a2f4e-7b1c-7d3e-9f0a-1b2c3d4e5f60',
    'ses_4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c',
    'msg_01XFDUDYJgAACzvnptvVoYEL toolu_01A09q90qw90lq917835lq9',
    'Authorization: Bearer dev-token',
    'https://github.com/acme/repo.git ssh://git@github.com/acme/repo.git git@github.com:acme/repo.git',
    'postgres://localhost:5432/app and redis://cache:6379/0',
    'const url = `https://${user}:${token}@example.com/`;',
    'DATABASE_URL=postgres://user:<password>@host/db',
    'aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}',
    'secret: [REDACTED:github-token] and [REDACTED:env:ANTHROPIC_API_KEY] and https://u:[REDACTED:url-credentials]@h',
    `data:image/png;base64,${fake(200, 77, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/')}`,
    'sk-ant is a prefix, sk-proj too, and AKIA alone is not a key; ghp_short is too short',
    'eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.',
    'password = "" # set me',
    'Rate limit exceeded; your limit resets at 2026-01-01T00:00:00.000Z',
    '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----',
    '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----',
  ];
  for (const line of ordinary) {
    it(`no finding in: ${line.slice(0, 70)}`, () => {
      expect(scanText(line)).toEqual([]);
    });
  }

  for (const agent of ['claude', 'codex', 'opencode', 'droid', 'gemini'] as const) {
    it(`no finding in the ${agent} output the simulator prints (real formats, UUID session ids)`, async () => {
      const runs = await Promise.all([
        runSim({ agent, simulate: { delay_ms: 250, output_text: 'Looked at src/, ran the tests: 12 passed.' } }),
        runSim({ agent, attempt: 2, resumeSessionId: '7c9e6679-7425-40de-944b-e07fc1f90ae7', simulate: { files: { 'src/a.ts': 'export const a = 1;\n' } } }),
        runSim({ agent, simulate: { outcome: 'fail' } }),
        runSim({ agent, simulate: { outcome: 'rate_limit' } }),
      ]);
      const text = runs.map((r) => r.lines.join('\n') + '\n' + r.stderr).join('\n');
      expect(text.length).toBeGreaterThan(500);
      expect(scanText(text)).toEqual([]);
    });
  }

  it("no finding in this repository's own TypeScript sources", () => {
    const root = path.resolve(__dirname, '../..');
    const skip = new Set(['node_modules', '.git', 'var', 'artifacts', 'workspaces', 'dist', 'coverage']);
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        if (skip.has(name)) continue;
        const p = path.join(dir, name);
        const st = statSync(p);
        if (st.isDirectory()) walk(p);
        else if (/\.(ts|mjs)$/.test(name)) files.push(p);
      }
    };
    walk(root);
    expect(files.length).toBeGreaterThan(50);
    const hits = files.flatMap((f) => scanText(readFileSync(f, 'utf8')).map((x) => `${path.relative(root, f)}:${x.line} ${x.rule}`));
    expect(hits).toEqual([]);
  });
});

describe('secrets: known values in a stream', () => {
  const known: KnownSecret[] = [{ name: 'DEPLOY_PASSPHRASE', value: 'correct-horse-battery-staple-42' }];
  const run = (chunks: string[], k: readonly KnownSecret[] = known): string => {
    const r = new StreamRedactor(k);
    return chunks.map((c) => r.push(c)).join('') + r.end();
  };

  it('redacts a value split across two chunks at every possible point', () => {
    const text = `start ${known[0]!.value} end\n`;
    for (let i = 1; i < text.length; i++) {
      const out = run([text.slice(0, i), text.slice(i)]);
      expect(out).toBe('start [REDACTED:env:DEPLOY_PASSPHRASE] end\n');
    }
  });

  it('redacts values across many small chunks, and repeated values', () => {
    const text = `a ${known[0]!.value} b ${known[0]!.value}${known[0]!.value} c\n`.repeat(3);
    const chunks = text.match(/.{1,3}/gs)!;
    const out = run(chunks);
    expect(out).not.toContain('horse');
    expect(out.split('[REDACTED:env:DEPLOY_PASSPHRASE]').length - 1).toBe(9);
  });

  it('prefers the longer of two values sharing a prefix', () => {
    const k = [{ name: 'SHORT_TOKEN', value: 'abcdefgh12' }, { name: 'LONG_TOKEN', value: 'abcdefgh12345678' }];
    expect(run(['x abcdefgh12', '345678 y\n'], k)).toBe('x [REDACTED:env:LONG_TOKEN] y\n');
    expect(run(['x abcdefgh12', ' y\n'], k)).toBe('x [REDACTED:env:SHORT_TOKEN] y\n');
  });

  it('lets ordinary output through at once (holds back only a possible value prefix)', () => {
    const r = new StreamRedactor(known);
    expect(r.push('hello world\n')).toBe('hello world\n');
    expect(r.push('then corr')).toBe('then ');
    expect(r.push('ection\n')).toBe('correction\n');
    expect(r.end()).toBe('');
  });

  it('sensitiveValues: SENSITIVE_ENV_VARS, credential-named variables and the defaults; not short values or paths', () => {
    const vals = sensitiveValues(['DEPLOY_PASSPHRASE'], {
      DEPLOY_PASSPHRASE: 'correct-horse-battery-staple-42',
      MY_SERVICE_TOKEN: 'tok_0123456789abcdef',
      DB_PASSWORD: 'p"ss\\word-1234',
      ANTHROPIC_API_KEY: 'k-123456789',
      SHORT_SECRET: 'abc',
      PWD: '/home/user/project',
      SSH_AUTH_SOCK: '/tmp/ssh-XXXX/agent.1',
      HOME: '/home/user',
      KEYBOARD: 'us-international',
    });
    const names = vals.map((v) => v.name).sort();
    expect(names).toEqual(['ANTHROPIC_API_KEY', 'DB_PASSWORD', 'DB_PASSWORD', 'DEPLOY_PASSPHRASE', 'MY_SERVICE_TOKEN']);
    expect(vals.map((v) => v.value)).toContain('p\\"ss\\\\word-1234'); // its JSON-escaped form too
  });
});
