/**
 * The executor: whatever an agent does, it is gone within timeout + grace, its output is capped
 * but fully seen by the parser, and the idle watchdog only kills a silent process.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { forkCounter, lowestRunPid, pidAlive, pidsWithRunMarker } from '../../lib/proc.ts';
import { runProcess, type ExecRequest } from '../../workers/executor.ts';
import { LauncherPool } from '../../workers/launcher.ts';

const FIX = path.resolve(__dirname, '../fixtures');
let dir: string;
beforeEach(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'orch-exec-')); });
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

// every case runs twice: spawned at the moment (cold), and started in a warm launcher
let pool: LauncherPool;
let start: 'cold' | 'warm' = 'cold';
beforeAll(() => {
  pool = new LauncherPool(1);
});
afterAll(async () => {
  await pool.close();
});

function req(over: Partial<ExecRequest>): ExecRequest {
  return {
    file: process.execPath, args: [], env: { PATH: process.env.PATH ?? '' }, cwd: dir, runId: `test-${Math.random().toString(36).slice(2)}`,
    timeoutMs: 10_000, idleMs: 0, killGraceMs: 300, logFile: path.join(dir, 'log.txt'), maxOutputChars: 1_000_000, launcher: start === 'warm' ? pool : undefined, ...over,
  };
}

// warm needs perl (perl-base, Essential on Debian)
const STARTS = spawnSync('perl', ['-e', '1']).status === 0 ? (['cold', 'warm'] as const) : (['cold'] as const);
describe.each(STARTS)('%s start', (mode) => {
  beforeEach(async () => {
    start = mode;
    // a warm case really starts warm: the launcher the last case took has been replaced
    for (let i = 0; mode === 'warm' && pool.size === 0 && i < 500; i++) await new Promise((r) => setTimeout(r, 10));
    if (mode === 'warm') expect(pool.size).toBe(1);
  });

  describe('executor: killing', () => {
    it('an agent that ignores SIGTERM and leaves grandchildren (one escaped its group) is gone within timeout + grace', async () => {
      const lines: string[] = [];
      const r = req({ args: [path.join(FIX, 'stubborn-agent.mjs')], timeoutMs: 1000, killGraceMs: 500, onLine: (l) => lines.push(l) });
      const t0 = Date.now();
      const res = await runProcess(r);
      const elapsed = Date.now() - t0;
      expect(res.timedOut).toBe(true);
      expect(res.signal).toBe('SIGKILL');
      // timeout 1000 + grace 500, plus bounded drain/reap slack
      expect(elapsed).toBeLessThan(1000 + 500 + 2500);
      const { grandchildren } = JSON.parse(lines[0] ?? '{}') as { grandchildren: number[] };
      expect(grandchildren).toHaveLength(2);
      for (const pid of grandchildren) expect(pidAlive(pid)).toBe(false);
      expect(pidsWithRunMarker(r.runId)).toEqual([]);
    });

    it('cancel via AbortSignal kills the group and reports cancelled', async () => {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 300);
      const res = await runProcess(req({ args: [path.join(FIX, 'stubborn-agent.mjs')], signal: ac.signal }));
      expect(res.cancelled).toBe(true);
      expect(res.timedOut).toBe(false);
    });

    it('a missing binary is a spawn error, not a hang', async () => {
      const res = await runProcess(req({ file: 'definitely-not-a-binary-xyz' }));
      expect(res.spawnError).toMatch(/ENOENT/);
    });
  });

  describe('executor: the run-marker scan', () => {
    it('an agent that exits at once, leaving a child in its own session, has that child killed after its exit', async () => {
      // the escaped child sleeps; only the run marker in its environment ties it to the run
      const script = "const c = require('node:child_process').spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { detached: true, stdio: 'ignore' }); console.log(c.pid); c.unref();";
      const lines: string[] = [];
      const r = req({ args: ['-e', script], onLine: (l) => lines.push(l) });
      const res = await runProcess(r);
      expect(res.exitCode).toBe(0);
      const escaped = Number(lines[0]);
      expect(escaped).toBeGreaterThan(0);
      expect(pidAlive(escaped)).toBe(false);
    });

    it('finds a marked process above the origin pid, and looks at every pid when the counter may have wrapped', () => {
      const forks = forkCounter();
      expect(forks).toBeGreaterThan(0);
      // the run's first process: no task created since, 100 alive, plenty of room below pid_max
      expect(lowestRunPid({ pid: 5000, forksBefore: 900 }, { forks: 901, liveTasks: 100, pidMax: 4_194_304 })).toBe(5000);
      // enough tasks created since the spawn to wrap a small pid_max: every pid is a candidate
      expect(lowestRunPid({ pid: 30_000, forksBefore: 900 }, { forks: 3_900, liveTasks: 100, pidMax: 32_768 })).toBe(0);
      // the skips over pids in use count too
      expect(lowestRunPid({ pid: 30_000, forksBefore: 900 }, { forks: 2_000, liveTasks: 1_700, pidMax: 32_768 })).toBe(0);
      // a counter that went backwards (another pid namespace's view): no floor
      expect(lowestRunPid({ pid: 5000, forksBefore: 900 }, { forks: 800, liveTasks: 10, pidMax: 4_194_304 })).toBe(0);
    });
  });

  describe('executor: output', () => {
    it('caps logs.txt at maxOutputChars but the parser still sees every line', async () => {
      let seen = 0;
      const res = await runProcess(req({ args: [path.join(FIX, 'chatty-agent.mjs'), '2000', '0'], maxOutputChars: 1000, onLine: () => seen++ }));
      expect(res.exitCode).toBe(0);
      expect(seen).toBe(2000);
      expect(res.outputTruncated).toBe(true);
      const log = readFileSync(path.join(dir, 'log.txt'), 'utf8');
      expect(log.length).toBeLessThan(1200);
      expect(log).toContain('output truncated at MAX_SUBPROCESS_OUTPUT_CHARS=1000');
    });

    it('the idle watchdog spares a slow but busy process and kills a silent one', async () => {
      const busy = await runProcess(req({ args: [path.join(FIX, 'chatty-agent.mjs'), '12', '100'], idleMs: 500 }));
      expect(busy.idleTimedOut).toBe(false);
      expect(busy.exitCode).toBe(0);
      const silent = await runProcess(req({ args: ['-e', 'setTimeout(() => {}, 60000)'], idleMs: 500 }));
      expect(silent.idleTimedOut).toBe(true);
    });
  });
});
