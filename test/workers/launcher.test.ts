/**
 * Warm launchers (workers/launcher.ts): a step started in a launcher spawned ahead of time is the
 * same process, to itself and to the runner, as one the runner spawns at that moment; a launcher
 * that cannot serve falls back to a cold spawn; and no launcher outlives its runner.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pidAlive } from '../../lib/proc.ts';
import { runProcess, type ExecRequest } from '../../workers/executor.ts';
import { encodeRequest, LauncherPool, readReport, WarmLauncher } from '../../workers/launcher.ts';
import { killAll, spawnOrchestrator } from '../helpers/processes.ts';

// perl-base is Essential on Debian (always installed); elsewhere the runner falls back to cold starts
const HAS_PERL = spawnSync('perl', ['-e', '1']).status === 0;
if (!HAS_PERL) console.warn('launcher.test: skipped: no perl on this machine (the runner then starts every step cold)');

let dir: string;
let pool: LauncherPool;
beforeAll(() => {
  pool = new LauncherPool(2);
});
afterAll(async () => {
  await pool.close();
});
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'orch-launch-'));
});
afterEach(async () => {
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}

function req(over: Partial<ExecRequest>): ExecRequest {
  return {
    file: 'sh', args: [], env: { PATH: process.env.PATH ?? '', LANG: 'C', 'WITH SPACE': 'a b=c\td' }, cwd: dir, runId: `test-${Math.random().toString(36).slice(2)}`,
    timeoutMs: 10_000, idleMs: 0, killGraceMs: 300, logFile: path.join(dir, 'log.txt'), maxOutputChars: 1_000_000, ...over,
  };
}

/** Everything a process can see of how it was started: its environment, cwd, open fds, group, stdin. */
const PROBE = [
  'echo "first line, at once"',
  'echo "to stderr" >&2',
  'echo "cwd=$(pwd -P)"',
  'echo "fds=$(ls /proc/$$/fd | sort -n | tr "\\n" " ")"',
  'echo "stdin=$(readlink /proc/$$/fd/0)"',
  'set -- $(cut -d" " -f1,5 /proc/$$/stat); echo "group leader=$([ "$1" = "$2" ] && echo yes || echo no)"',
  'tr "\\0" "\\n" < /proc/$$/environ | sort | sed "s/^ORCH_RUN_ID=.*/ORCH_RUN_ID=<run>/"',
  'exit 7',
].join('\n');

async function probe(launcher?: LauncherPool): Promise<{ lines: string[]; exitCode: number | null; pid: number | null; spawned: number[] }> {
  const lines: string[] = [];
  const spawned: number[] = [];
  // stdout first, then stderr: their interleaving is the scheduler's
  const err: string[] = [];
  const res = await runProcess(req({ args: ['-c', PROBE], launcher, onLine: (l, s) => (s === 'stderr' ? err : lines).push(l), onSpawn: (p) => spawned.push(p) }));
  lines.push(...err.map((l) => `[stderr] ${l}`));
  return { lines, exitCode: res.exitCode, pid: res.pid, spawned };
}

describe.skipIf(!HAS_PERL)('a warm start', () => {
  it('is indistinguishable from a cold one: output from the first byte, env, cwd, fds, group, stdin, exit code', async () => {
    const taken = pool.taken;
    const cold = await probe(undefined);
    const warm = await probe(pool);
    expect(pool.taken).toBe(taken + 1); // the warm run really went through a launcher
    expect(warm.lines).toEqual(cold.lines);
    expect(warm.exitCode).toBe(7);
    expect(warm.lines[0]).toBe('first line, at once');
    expect(warm.lines).toContain('[stderr] to stderr');
    expect(warm.lines).toContain('group leader=yes');
    expect(warm.lines.find((l) => l.startsWith('fds='))).toMatch(/^fds=0 1 2 /);
    expect(warm.lines).toContain('stdin=/dev/null');
    expect(warm.lines).toContain('WITH SPACE=a b=c\td');
    expect(warm.spawned).toEqual([warm.pid]);
  });

  it('loses no output of a program that writes the moment it starts (30 runs)', async () => {
    const taken = pool.taken;
    for (let i = 0; i < 30; i++) {
      const lines: string[] = [];
      const res = await runProcess(req({ file: 'echo', args: [`run ${i}`], launcher: pool, onLine: (l) => lines.push(l) }));
      expect(res.exitCode).toBe(0);
      expect(lines).toEqual([`run ${i}`]);
    }
    expect(pool.taken).toBe(taken + 30);
  });

  it('reports a program that cannot start as a spawn error, as a cold spawn does, and never calls onSpawn', async () => {
    const script = path.join(dir, 'not-executable.sh');
    writeFileSync(script, '#!/bin/sh\necho no\n');
    chmodSync(script, 0o644);
    for (const [over, expected] of [
      [{ file: 'definitely-not-a-binary-xyz' }, /^ENOENT: spawn definitely-not-a-binary-xyz ENOENT$/],
      [{ file: script }, /^EACCES: /],
      [{ file: 'true', cwd: path.join(dir, 'missing') }, /^ENOENT: chdir .*missing ENOENT$/],
    ] as const) {
      const taken = pool.taken;
      const spawned: number[] = [];
      const res = await runProcess(req({ ...over, launcher: pool, onSpawn: (p) => spawned.push(p) }));
      expect(pool.taken).toBe(taken + 1);
      expect(res.spawnError).toMatch(expected);
      expect(res.pid).toBeNull();
      expect(spawned).toEqual([]);
      // the same request started cold fails the same way
      if (!('cwd' in over)) expect((await runProcess(req(over))).spawnError).toMatch(/^(ENOENT|EACCES)/);
    }
  });

  it('a launcher killed while idle is never handed out; one killed as it is handed over falls back to a cold start', async () => {
    const own = new LauncherPool(1);
    try {
      await until(() => own.size === 1);
      const first = own.take();
      expect(first).toBeDefined();
      own.refill();
      await until(() => own.size === 1);
      // killed while idle: the pool skips it once its exit is seen
      const idle = own.peek();
      process.kill(idle?.spawned.pid ?? 0, 'SIGKILL');
      await until(() => idle?.alive === false);
      expect(own.take()).toBeUndefined();
      // killed between the take and the launch: the launch says "gone", the step starts cold
      const lone = new WarmLauncher();
      process.kill(lone.spawned.pid ?? 0, 'SIGKILL');
      expect(await lone.launch({ file: 'true', args: [], env: {}, cwd: dir })).toEqual({ kind: 'gone' });
      // dead, and its pipes already closed when the launch comes: "gone" too, not a wait forever
      const gone = new WarmLauncher();
      process.kill(gone.spawned.pid ?? 0, 'SIGKILL');
      await gone.spawned.exited;
      await sleep(50);
      const launched = await Promise.race([gone.launch({ file: 'true', args: [], env: {}, cwd: dir }), sleep(3000).then(() => 'hung' as const)]);
      expect(launched).toEqual({ kind: 'gone' });
      // stopped before it read the request: killed at the deadline, then "gone" (a cold start)
      const stopped = new WarmLauncher();
      await sleep(100);
      process.kill(stopped.spawned.pid ?? 0, 'SIGSTOP');
      const outcome = await Promise.race([stopped.launch({ file: 'true', args: [], env: {}, cwd: dir }, 300), sleep(10_000).then(() => 'hung' as const)]);
      expect(outcome).toEqual({ kind: 'gone' });
      await stopped.spawned.exited;
      await first?.close();
    } finally {
      await own.close();
    }
    const lines: string[] = [];
    const dead = new LauncherPool(1);
    await until(() => dead.size === 1);
    process.kill(dead.peek()?.spawned.pid ?? 0, 'SIGKILL');
    // not yet seen as dead by the pool: taken, its launch finds it gone, the step runs cold
    const res = await runProcess(req({ args: ['-c', 'echo ran'], launcher: dead, onLine: (l) => lines.push(l) }));
    expect(res.exitCode).toBe(0);
    expect(lines).toEqual(['ran']);
    await dead.close();
  });
});

describe.skipIf(!HAS_PERL)('the pool', () => {
  it('replaces what was taken only while nothing waits (busy: a backlog of jobs)', async () => {
    let busy = false;
    const gated = new LauncherPool(1, () => busy);
    try {
      expect(await until(() => gated.size === 1)).toBe(true);
      busy = true;
      const first = gated.take();
      expect(first).toBeDefined();
      gated.refill();
      await sleep(300);
      expect(gated.size).toBe(0); // a backlog: the next steps start cold
      expect(gated.take()).toBeUndefined();
      busy = false;
      gated.refill();
      expect(await until(() => gated.size === 1)).toBe(true);
      await first?.close();
    } finally {
      await gated.close();
    }
  });
});

describe('the request and the report (pure)', () => {
  it('a request that cannot cross the pipe intact is refused, so the step starts cold', () => {
    const ok = { file: 'sh', args: ['-c', 'echo'], env: { A: '1' }, cwd: '/tmp' };
    expect(encodeRequest(ok)).toBe('/tmp\x001\x00A=1\x00sh\x00-c\x00echo\x00');
    expect(encodeRequest({ ...ok, args: ['a\0b'] })).toBeUndefined();
    expect(encodeRequest({ ...ok, env: { 'A=B': '1' } })).toBeUndefined();
    expect(encodeRequest({ ...ok, file: '' })).toBeUndefined();
  });

  it('reads the report channel: read and exec\'d, read and failed, or never read', () => {
    expect(readReport('R')).toEqual({ kind: 'started' });
    expect(readReport('R2 exec')).toEqual({ kind: 'failed', code: 'ENOENT', what: 'exec' });
    expect(readReport('R13 chdir')).toEqual({ kind: 'failed', code: 'EACCES', what: 'chdir' });
    expect(readReport('')).toEqual({ kind: 'gone' });
  });
});

/** Launchers (by their process name) whose parent is `ppid`. */
function launchersOf(ppid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === ppid && readFileSync(`/proc/${e}/cmdline`, 'latin1').startsWith('orchestrator-launcher')) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

describe.skipIf(!HAS_PERL)('no launcher outlives its runner', () => {
  it('a runner keeps RUNNER_CONCURRENCY launchers; they exit with it, whether it stops or is SIGKILLed', async () => {
    for (const how of ['SIGTERM', 'SIGKILL'] as const) {
      const runner = spawnOrchestrator(['runner'], { ORCHESTRATOR_HOME: path.join(dir, how), RUNNER_CONCURRENCY: '3', WORKSPACE_MODE: 'plain' });
      const pid = runner.pid ?? 0;
      expect(await until(() => launchersOf(pid).length === 3, 15_000), runner.output()).toBe(true);
      const launchers = launchersOf(pid);
      runner.kill(how);
      expect(await until(() => launchers.every((p) => !pidAlive(p)), 10_000)).toBe(true);
    }
  });

  it('RUNNER_WARM_LAUNCHERS=0 keeps none', async () => {
    const runner = spawnOrchestrator(['runner'], { ORCHESTRATOR_HOME: dir, RUNNER_WARM_LAUNCHERS: '0', WORKSPACE_MODE: 'plain' });
    const heartbeats = path.join(dir, 'var', 'queue', 'runners');
    expect(await until(() => existsSync(heartbeats) && readdirSync(heartbeats).some((f) => f.endsWith('.json')), 15_000), runner.output()).toBe(true);
    await sleep(500);
    expect(launchersOf(runner.pid ?? 0)).toEqual([]);
  });
});
