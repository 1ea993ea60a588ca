/**
 * Shared test helpers: a throwaway ORCHESTRATOR_HOME (optionally with a runner on it), jobs,
 * waiting, and the queue/artifact invariants every scenario must end with.
 */
import { promises as fsp, readdirSync, readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import type { Job, NormalizedJob } from '../../contracts/index.ts';
import { resultIssues } from '../../contracts/validate.ts';
import { createQueue, type FsQueue } from '../../fsqueue/queue.ts';
import { QUEUE_STATES, type QueueState } from '../../fsqueue/states.ts';
import { loadConfig, type Config } from '../../lib/config.ts';
import { JOB_FILES, STEP_FILES } from '../../runner/artifacts.ts';
import { createRunner, type Runner } from '../../runner/runner.ts';
import { submitJob } from '../../runner/submit.ts';

export interface TempHome {
  dir: string;
  env: Record<string, string>;
  config: Config;
  queue: FsQueue;
  cleanup: () => Promise<void>;
}

/** Fast timings for tests; override per test. */
export const FAST_ENV: Record<string, string> = {
  RUNNER_SCAN_INTERVAL_MS: '200',
  RUNNER_HEARTBEAT_MS: '200',
  RUNNER_LEASE_STALE_MS: '3000',
  RUNNER_KILL_GRACE_MS: '500',
  RUNNER_SHUTDOWN_GRACE_MS: '3000',
};

export async function tempHome(extraEnv: Record<string, string> = {}): Promise<TempHome> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'orch-test-'));
  const env = { ORCHESTRATOR_HOME: dir, ...FAST_ENV, ...extraEnv };
  const config = loadConfig(env, dir);
  const queue = createQueue(config.paths.queueRoot);
  await queue.init();
  return { dir, env, config, queue, cleanup: () => fsp.rm(dir, { recursive: true, force: true }) };
}

export interface RunnerHarness {
  /** A new temp home (FAST_ENV + `extraEnv`) with a started runner on it; returns the home. */
  start(extraEnv?: Record<string, string>): Promise<TempHome>;
  /** Stop the runner (forced) and start a new one over the same home with `config`. */
  restart(config: Config): Promise<Runner>;
}

/**
 * A runner per test: registers an afterEach that stops the test's runner (forced), removes its
 * home and then calls `opts.after` (e.g. to put back process.env). Call at the top of a test file.
 */
export function withRunner(opts: { after?: () => void } = {}): RunnerHarness {
  let current: { home: TempHome; runner: Runner } | undefined;
  afterEach(async () => {
    const c = current;
    current = undefined;
    if (c) {
      await c.runner.stop({ force: true });
      await c.home.cleanup();
    }
    opts.after?.();
  });
  return {
    async start(extraEnv = {}) {
      const home = await tempHome(extraEnv);
      current = { home, runner: createRunner({ config: home.config }) };
      await current.runner.start();
      return home;
    },
    async restart(config) {
      if (!current) throw new Error('withRunner: restart() before start()');
      await current.runner.stop({ force: true });
      current.runner = createRunner({ config });
      await current.runner.start();
      return current.runner;
    },
  };
}

export async function submit(home: TempHome, job: Job): Promise<NormalizedJob> {
  return (await submitJob(job, { queue: home.queue, artifactsRoot: home.config.paths.artifactsRoot, sourceType: 'manual' })).job;
}

export async function waitFor<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function waitForState(home: TempHome, id: string, states: QueueState[], timeoutMs = 30_000): Promise<QueueState> {
  return waitFor(async () => {
    const s = await home.queue.locate(id);
    return s && states.includes(s) ? s : undefined;
  }, timeoutMs, `job ${id} in ${states.join('|')}`);
}

export function readJson<T = Record<string, unknown>>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/**
 * Every job id is in exactly one state directory; every finished or waiting job has the complete
 * artifact tree, and every result.json in it validates against the schema.
 */
export function expectQueueInvariants(home: TempHome): Map<string, QueueState> {
  const where = new Map<string, QueueState>();
  for (const s of QUEUE_STATES) {
    for (const name of readdirSync(home.queue.dir(s))) {
      if (!name.endsWith('.json')) continue;
      const id = name.slice(0, -5);
      if (where.has(id)) throw new Error(`job ${id} is in both ${where.get(id)} and ${s}`);
      where.set(id, s);
    }
  }
  for (const [id, s] of where) {
    if (s === 'pending' || s === 'running') continue;
    const dir = path.join(home.config.paths.artifactsRoot, id);
    for (const f of JOB_FILES) if (!existsSync(path.join(dir, f))) throw new Error(`job ${id} (${s}) lacks artifact ${f}`);
    const job = readJson<NormalizedJob>(path.join(dir, 'job.json'));
    const results = [path.join(dir, 'result.json')];
    for (const st of job.steps) {
      for (const f of STEP_FILES) if (!existsSync(path.join(dir, 'steps', st.step_id, f))) throw new Error(`job ${id} (${s}) lacks steps/${st.step_id}/${f}`);
      results.push(path.join(dir, 'steps', st.step_id, 'result.json'));
    }
    for (const r of results) {
      const issues = resultIssues(readJson(r));
      if (issues.length) throw new Error(`${r} is not schema-valid: ${JSON.stringify(issues)}`);
    }
  }
  return where;
}
