/**
 * Side by side with the job runners people would use instead, same machine, same run:
 *
 *  1. Pickup latency: an idle system, jobs submitted one at a time; latency = submit call →
 *     the job's process starts (`sh -c 'date +%s%N >> stamps'`: the first thing the process does
 *     is record the wall clock). p50/p99 over --pickups jobs (200; --quick 40).
 *  2. Drain throughput: --jobs one-step jobs (1,000; --quick 200) whose step runs `true`, two at a
 *     time, queued before the workers run; jobs/s from release to the last job finished.
 *  3. Step overhead (ours): wall time of a job's one step from the claim to `job:finished`, minus
 *     the wall time of its process (which stamps its own start and end), p50/p99.
 *
 * Contenders:
 *  - ours, the compiled runner (`dist/cli/main.js runner`, RUNNER_CONCURRENCY=2) with the per-job
 *    git workspace (default) and with WORKSPACE_MODE=plain; jobs are submitted in this process
 *    through submitJob() (the durable enqueue the CLI and the webhook use); the drain counts from
 *    the runner's process start (its start-up included); `ours-cold` is the same runner with
 *    RUNNER_WARM_LAUNCHERS=0 (git for pickup, plain for drain), to show what the warm launchers buy;
 *  - BullMQ (bench/bullmq-worker.mjs, concurrency 2) on a private redis-server with Redis defaults
 *    (no fsync per write), and the same on Redis with AOF `appendfsync always` (durable like ours);
 *    jobs are added with Queue.add / addBulk; the drain counts from the worker's process start;
 *  - task-spooler: a private server (TS_SOCKET), `tsp -S 2`; jobs are `tsp <argv>`; its server holds
 *    at most ~1,000 queued jobs, so its drain runs in batches of 500 (drain times summed);
 *  - nq: `nq <argv>`; nq runs one job at a time per queue directory, so the drain uses two
 *    directories (NQDIR), jobs dealt round-robin. For tsp and nq the drain queues two "blocker" jobs
 *    first (they wait for a file) and counts from the moment the file is created.
 *
 * Run alone: node --import tsx bench/compare.ts [--quick] [--pickups 200] [--jobs 1000]
 *   [--systems ours,ours-plain,ours-cold,bullmq,bullmq-aof,tsp,nq]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Job } from '../contracts/index.ts';
import { createQueue, type FsQueue } from '../fsqueue/queue.ts';
import { loadConfig } from '../lib/config.ts';
import { submitJob } from '../runner/submit.ts';
import { ensureBinary, ensureBullmq, skippedPeers, startRedis, type BullQueue, type Redis } from './peers.ts';
import { argNum, benchEnv, benchHome, discardLater, ensureDist, fmt, lineCount, loadavg, machineState, quickMode, readStamps, run, sleep, startRunner, stats, table, wallMs, writeResults, type RunnerProc, type Stats } from './lib.ts';

const HERE = import.meta.dirname;

/** argv of the timed process: stamps its start (and, for the overhead, its end). */
function stampArgv(startFile: string, endFile?: string): string[] {
  return ['sh', '-c', endFile ? `date +%s%N >> '${startFile}'; date +%s%N >> '${endFile}'` : `date +%s%N >> '${startFile}'`];
}

interface Contender {
  name: string;
  /** Submit one job running argv; resolves to a function that resolves once the job finished. */
  submit(argv: string[]): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, pollMs = 1): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await sleep(pollMs);
  }
  return false;
}

// ---------------------------------------------------------------- ours

const commandJob = (argv: string[], i: number): Job => ({ goal: `bench ${i}`, steps: [{ step_id: 's', agent: 'command', command: argv as [string, ...string[]], max_retries: 0 }] });

/** `cold`: RUNNER_WARM_LAUNCHERS=0, every step's process spawned by the runner at its start (a fork of the runner). */
async function oursHome(mode: 'git' | 'plain', cold = false): Promise<{ home: string; env: Record<string, string>; queue: FsQueue; artifactsRoot: string }> {
  const home = await benchHome(`ours-${mode}`);
  const env = { RUNNER_CONCURRENCY: '2', WORKSPACE_MODE: mode, ...(cold ? { RUNNER_WARM_LAUNCHERS: '0' } : {}) };
  const config = loadConfig({ ORCHESTRATOR_HOME: home, ...env }, home);
  const queue = createQueue(config.paths.queueRoot);
  await queue.init();
  return { home, env, queue, artifactsRoot: config.paths.artifactsRoot };
}

const oursName = (mode: 'git' | 'plain', cold: boolean): string => (cold ? `ours, cold starts (${mode === 'git' ? 'git' : 'plain'}, RUNNER_WARM_LAUNCHERS=0)` : mode === 'git' ? 'ours (git workspace)' : 'ours (WORKSPACE_MODE=plain)');

async function oursContender(mode: 'git' | 'plain', cold = false): Promise<Contender & { home: string; ids: string[]; runner: RunnerProc }> {
  const h = await oursHome(mode, cold);
  const runner = await startRunner(h.home, h.env);
  await sleep(500); // idle
  const ids: string[] = [];
  let i = 0;
  return {
    name: oursName(mode, cold),
    home: h.home,
    ids,
    runner,
    async submit(argv) {
      const { job } = await submitJob(commandJob(argv, i++), { queue: h.queue, artifactsRoot: h.artifactsRoot, sourceType: 'manual' });
      ids.push(job.job_id);
      const done = [h.queue.pathOf('done', job.job_id), h.queue.pathOf('failed', job.job_id)];
      return async () => {
        await waitUntil(() => done.some((f) => existsSync(f)), 30_000, 2);
      };
    },
    async close() {
      await runner.stop();
    },
  };
}

/** Per job: claim → job:finished, minus the process's own start → end (stamped by the process). */
function stepOverhead(home: string, ids: string[], startFile: string, endFile: string): { overhead: Stats; pre_spawn: Stats; post_exit: Stats; agent: Stats; executor_agent: Stats } | null {
  const starts = readStamps(startFile);
  const ends = readStamps(endFile);
  const over: number[] = [];
  const pre: number[] = [];
  const post: number[] = [];
  const agent: number[] = [];
  const execAgent: number[] = [];
  ids.forEach((id, i) => {
    const s = starts[i];
    const e = ends[i];
    if (s === undefined || e === undefined) return;
    const dir = path.join(home, 'artifacts', id);
    let claimAt = NaN;
    let finishedAt = NaN;
    try {
      const job = JSON.parse(readFileSync(path.join(dir, 'job.json'), 'utf8')) as { submitted_at: string };
      for (const line of readFileSync(path.join(dir, 'events.jsonl'), 'utf8').split('\n')) {
        if (!line) continue;
        const ev = JSON.parse(line) as { type: string; at: string; data: { queued_ms?: number } };
        if (ev.type === 'job:claimed') claimAt = Date.parse(job.submitted_at) + (ev.data.queued_ms ?? NaN);
        if (ev.type === 'job:finished') finishedAt = Date.parse(ev.at);
      }
      const res = JSON.parse(readFileSync(path.join(dir, 'steps', 's', 'result.json'), 'utf8')) as { metrics?: { agent_duration_ms?: number } };
      if (res.metrics?.agent_duration_ms !== undefined) execAgent.push(res.metrics.agent_duration_ms);
    } catch {
      return;
    }
    if (!Number.isFinite(claimAt) || !Number.isFinite(finishedAt)) return;
    agent.push(e - s);
    over.push(finishedAt - claimAt - (e - s));
    pre.push(s - claimAt);
    post.push(finishedAt - e);
  });
  if (over.length === 0) return null;
  return { overhead: stats(over), pre_spawn: stats(pre), post_exit: stats(post), agent: stats(agent), executor_agent: stats(execAgent) };
}

// ---------------------------------------------------------------- BullMQ

async function bullWorker(peersDir: string, port: number, queueName: string, concurrency: number): Promise<{ child: ChildProcess; ready: Promise<void>; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [path.join(HERE, 'bullmq-worker.mjs'), peersDir, String(port), queueName, String(concurrency)], { env: benchEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`bullmq worker exited with ${code}`)));
  });
  ready.catch(() => undefined);
  return {
    child,
    ready,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

async function bullContender(durable: boolean): Promise<Contender | string> {
  const bull = await ensureBullmq();
  if (!bull) return 'bullmq could not be installed';
  const dir = await benchHome(`redis${durable ? '-aof' : ''}`);
  const redis = await startRedis(dir, { durable });
  if (!redis) {
    discardLater(dir);
    return 'redis-server could not be installed or started';
  }
  const queueName = 'pickup';
  let queue: BullQueue | undefined;
  let worker: Awaited<ReturnType<typeof bullWorker>> | undefined;
  try {
    queue = new bull.Queue(queueName, { connection: { host: '127.0.0.1', port: redis.port } });
    await queue.waitUntilReady();
    worker = await bullWorker(bull.peersDir, redis.port, queueName, 2);
    await worker.ready;
    await sleep(500);
  } catch (err) {
    await worker?.stop();
    await queue?.close().catch(() => undefined);
    await redis.stop();
    discardLater(dir);
    throw err;
  }
  const [q, w] = [queue, worker];
  return {
    name: durable ? 'BullMQ (Redis AOF fsync always)' : 'BullMQ (Redis defaults)',
    async submit(argv) {
      const job = await q.add('job', { argv });
      return async () => {
        await waitUntil(async () => (await job.isCompleted()) || (await job.isFailed()), 30_000, 2);
      };
    },
    async close() {
      await w.stop();
      await q.close();
      await redis.stop();
      discardLater(dir);
    },
  };
}

// ---------------------------------------------------------------- task-spooler, nq

async function tspContender(): Promise<Contender | string> {
  const tsp = await ensureBinary('tsp');
  if (!tsp) return 'task-spooler could not be installed';
  const dir = await benchHome('tsp');
  const env = benchEnv({ TS_SOCKET: path.join(dir, 'tsp.sock'), TMPDIR: dir, TS_MAXFINISHED: '100000', TS_MAXCONN: '100000', TS_SLOTS: '2' });
  await run(tsp, ['-S', '2'], { env });
  await sleep(300);
  return {
    name: 'task-spooler (tsp -S 2)',
    async submit(argv) {
      const r = await run(tsp, argv, { env });
      const id = r.stdout.trim();
      return async () => {
        await run(tsp, ['-w', id], { env });
      };
    },
    async close() {
      await run(tsp, ['-K'], { env });
      discardLater(dir);
    },
  };
}

async function nqContender(): Promise<Contender | string> {
  const nq = await ensureBinary('nq');
  if (!nq) return 'nq could not be installed';
  const dir = await benchHome('nq');
  const env = benchEnv({ NQDIR: path.join(dir, 'q0') });
  await mkdir(path.join(dir, 'q0'), { recursive: true });
  return {
    name: 'nq',
    async submit(argv) {
      await run(nq, ['-q', ...argv], { env });
      return async () => {
        await run(nq, ['-w'], { env });
      };
    },
    async close() {
      discardLater(dir);
    },
  };
}

// ---------------------------------------------------------------- pickup

interface PickupResult {
  name: string;
  jobs: number;
  latency_ms: Stats;
  loadavg: string;
  step_overhead?: ReturnType<typeof stepOverhead>;
  runner_peak_rss_mb?: number;
}

async function pickup(make: () => Promise<Contender | string>, n: number, warmup = 5): Promise<PickupResult | string> {
  const c = await make();
  if (typeof c === 'string') return c;
  const dir = await benchHome('stamps');
  const startFile = path.join(dir, 'start');
  const endFile = path.join(dir, 'end');
  const lat: number[] = [];
  try {
    for (let i = 0; i < n + warmup; i++) {
      const before = lineCount(startFile);
      const t0 = wallMs();
      const waitDone = await c.submit(stampArgv(startFile, endFile));
      const ok = await waitUntil(() => lineCount(startFile) > before, 30_000);
      if (!ok) throw new Error(`${c.name}: job ${i} did not start within 30 s`);
      const started = readStamps(startFile)[before];
      if (i >= warmup && started !== undefined) lat.push(started - t0);
      await waitDone();
      await sleep(20); // idle again
    }
    const res: PickupResult = { name: c.name, jobs: lat.length, latency_ms: stats(lat), loadavg: loadavg() };
    const ours = c as Partial<Awaited<ReturnType<typeof oursContender>>>;
    if (ours.home && ours.ids && ours.runner) {
      // the warm-up jobs' stamps come first in the files, as their ids do in `ids`
      res.step_overhead = stepOverhead(ours.home, ours.ids, startFile, endFile);
      res.runner_peak_rss_mb = ours.runner.peakRssMb();
    }
    return res;
  } finally {
    await c.close();
    const ours = c as Partial<Awaited<ReturnType<typeof oursContender>>>;
    if (ours.home) discardLater(ours.home);
    discardLater(dir);
  }
}

// ---------------------------------------------------------------- drain

interface DrainResult {
  name: string;
  jobs: number;
  failed: number;
  seconds: number;
  jobs_per_s: number;
  enqueue_per_s?: number;
  runner_peak_rss_mb?: number;
  loadavg: string;
}

async function drainOurs(mode: 'git' | 'plain', n: number, cold = false): Promise<DrainResult> {
  const h = await oursHome(mode, cold);
  try {
    const t = performance.now();
    for (let i = 0; i < n; i++) await submitJob(commandJob(['true'], i), { queue: h.queue, artifactsRoot: h.artifactsRoot, sourceType: 'manual' });
    const enqueueS = (performance.now() - t) / 1000;
    const t0 = performance.now();
    const runner = await startRunner(h.home, h.env, { waitReady: false });
    const count = (): number => readdirSync(h.queue.dir('done')).length + readdirSync(h.queue.dir('failed')).length;
    await waitUntil(() => count() >= n, 30 * 60_000, 20);
    const s = (performance.now() - t0) / 1000;
    const peak = runner.peakRssMb();
    await runner.stop();
    return { name: oursName(mode, cold), jobs: n, failed: readdirSync(h.queue.dir('failed')).length, seconds: s, jobs_per_s: n / s, enqueue_per_s: n / enqueueS, runner_peak_rss_mb: peak, loadavg: loadavg() };
  } finally {
    discardLater(h.home);
  }
}

async function drainBull(durable: boolean, n: number): Promise<DrainResult | string> {
  const bull = await ensureBullmq();
  if (!bull) return 'bullmq could not be installed';
  const dir = await benchHome('redis-drain');
  const redis: Redis | null = await startRedis(dir, { durable });
  if (!redis) {
    discardLater(dir);
    return 'redis-server could not be installed or started';
  }
  let queue: BullQueue | undefined;
  try {
    const q: BullQueue = new bull.Queue('drain', { connection: { host: '127.0.0.1', port: redis.port } });
    queue = q;
    await q.waitUntilReady();
    const t = performance.now();
    for (let i = 0; i < n; i += 100) await q.addBulk(Array.from({ length: Math.min(100, n - i) }, () => ({ name: 'job', data: { argv: ['true'] } })));
    const enqueueS = (performance.now() - t) / 1000;
    const t0 = performance.now();
    const worker = await bullWorker(bull.peersDir, redis.port, 'drain', 2);
    const done = async (): Promise<number> => {
      const c = await q.getJobCounts('completed', 'failed');
      return (c.completed ?? 0) + (c.failed ?? 0);
    };
    await waitUntil(async () => (await done()) >= n, 30 * 60_000, 20);
    const s = (performance.now() - t0) / 1000;
    const failed = (await q.getJobCounts('failed')).failed ?? 0;
    await worker.stop();
    return { name: durable ? 'BullMQ (Redis AOF fsync always)' : 'BullMQ (Redis defaults)', jobs: n, failed, seconds: s, jobs_per_s: n / s, enqueue_per_s: n / enqueueS, loadavg: loadavg() };
  } finally {
    await queue?.close().catch(() => undefined);
    await redis.stop();
    discardLater(dir);
  }
}

const BLOCKER = (go: string): string[] => ['sh', '-c', `while [ ! -e '${go}' ]; do sleep 0.002; done`];

/**
 * tsp's server keeps a connection per queued job and select()s on them: it cannot hold more than
 * ~1,000 queued jobs (more block the enqueuing client). So the jobs are queued and drained in
 * batches of at most TSP_BATCH, each released at once; the drain time is the sum of the batches.
 */
const TSP_BATCH = 500;

async function drainTsp(n: number): Promise<DrainResult | string> {
  const tsp = await ensureBinary('tsp');
  if (!tsp) return 'task-spooler could not be installed';
  const dir = await benchHome('tsp-drain');
  const env = benchEnv({ TS_SOCKET: path.join(dir, 'tsp.sock'), TMPDIR: dir, TS_MAXFINISHED: '100000', TS_SLOTS: '2' });
  let enqueueS = 0;
  let drainS = 0;
  let finishedBefore = 0;
  try {
    await run(tsp, ['-S', '2'], { env });
    for (let done = 0, batch = 0; done < n; batch++) {
      const size = Math.min(TSP_BATCH, n - done);
      const go = path.join(dir, `GO${batch}`);
      for (let i = 0; i < 2; i++) await run(tsp, BLOCKER(go), { env });
      const t = performance.now();
      for (let i = 0; i < size; i++) await run(tsp, ['true'], { env });
      enqueueS += (performance.now() - t) / 1000;
      const t0 = performance.now();
      writeFileSync(go, '');
      const target = finishedBefore + size + 2;
      const finished = async (): Promise<number> => ((await run(tsp, ['-l'], { env })).stdout.match(/ finished /g) ?? []).length;
      await waitUntil(async () => (await finished()) >= target, 30 * 60_000, 20);
      drainS += (performance.now() - t0) / 1000;
      finishedBefore = target;
      done += size;
    }
    return { name: 'task-spooler (tsp -S 2)', jobs: n, failed: 0, seconds: drainS, jobs_per_s: n / drainS, enqueue_per_s: n / enqueueS, loadavg: loadavg() };
  } finally {
    await run(tsp, ['-K'], { env });
    discardLater(dir);
  }
}

async function drainNq(n: number): Promise<DrainResult | string> {
  const nq = await ensureBinary('nq');
  if (!nq) return 'nq could not be installed';
  const dir = await benchHome('nq-drain');
  const go = path.join(dir, 'GO');
  const envs = [0, 1].map((q) => benchEnv({ NQDIR: path.join(dir, `q${q}`) }));
  try {
    for (const [q, env] of envs.entries()) {
      await mkdir(path.join(dir, `q${q}`), { recursive: true });
      await run(nq, ['-q', ...BLOCKER(go)], { env });
    }
    const t = performance.now();
    for (let i = 0; i < n; i++) await run(nq, ['-q', 'true'], { env: envs[i % 2]! });
    const enqueueS = (performance.now() - t) / 1000;
    const t0 = performance.now();
    writeFileSync(go, '');
    await Promise.all(envs.map((env) => run(nq, ['-w'], { env })));
    const s = (performance.now() - t0) / 1000;
    return { name: 'nq (2 queue dirs)', jobs: n, failed: 0, seconds: s, jobs_per_s: n / s, enqueue_per_s: n / enqueueS, loadavg: loadavg() };
  } finally {
    discardLater(dir);
  }
}

// ---------------------------------------------------------------- main

export interface CompareResults {
  pickup: PickupResult[];
  drain: DrainResult[];
  skipped: Record<string, string>;
}

export async function runCompare(opts: { quick?: boolean; pickups?: number; jobs?: number; only?: string[] } = {}): Promise<CompareResults> {
  ensureDist();
  const quick = opts.quick ?? quickMode();
  const nPick = opts.pickups ?? argNum('pickups', quick ? 40 : 200);
  const nDrain = opts.jobs ?? argNum('jobs', quick ? 200 : 1000);
  const onlyArg = process.argv.indexOf('--systems');
  const only = opts.only ?? (onlyArg > 0 ? (process.argv[onlyArg + 1] ?? '').split(',') : undefined);
  const want = (k: string): boolean => !only || only.includes(k);
  const skipped: Record<string, string> = {};
  const pickups: PickupResult[] = [];
  const drains: DrainResult[] = [];
  const keep = <T>(key: string, r: T | string, into: T[]): void => {
    if (typeof r === 'string') {
      skipped[key] = r;
      process.stdout.write(`bench: skipping ${key}: ${r}\n`);
    } else into.push(r);
  };

  process.stdout.write(`\n== compare: pickup latency (${nPick} jobs each, idle system; load ${loadavg()}) ==\n`);
  const pickupPlan: Array<[string, () => Promise<Contender | string>]> = [
    ['ours', () => oursContender('git')],
    ['ours-plain', () => oursContender('plain')],
    ['ours-cold', () => oursContender('git', true)],
    ['bullmq', () => bullContender(false)],
    ['bullmq-aof', () => bullContender(true)],
    ['tsp', tspContender],
    ['nq', nqContender],
  ];
  for (const [key, make] of pickupPlan) {
    if (!want(key)) continue;
    process.stdout.write(`  ${key} (${machineState()})...`);
    keep(key, await pickup(make, nPick).catch((err: unknown) => `failed: ${err instanceof Error ? err.message : String(err)}`), pickups);
    process.stdout.write(` done (load ${loadavg()})\n`);
  }
  const base = pickups.find((p) => p.name.startsWith('BullMQ (Redis defaults)'))?.latency_ms.p50;
  console.log(table(pickups.map((p) => ({ system: p.name, jobs: p.jobs, 'p50 ms': fmt(p.latency_ms.p50, 2), 'p90 ms': fmt(p.latency_ms.p90, 2), 'p99 ms': fmt(p.latency_ms.p99, 2), 'max ms': fmt(p.latency_ms.max, 1), 'p50 / BullMQ': base ? `×${fmt(p.latency_ms.p50 / base, 2)}` : '—', load: p.loadavg }))));
  const over = pickups.filter((p) => p.step_overhead);
  if (over.length) {
    console.log(`\n== compare: step overhead (ours; claim → job finished, minus the process's own wall time) ==`);
    console.log(table(over.map((p) => ({ system: p.name, 'overhead p50 ms': fmt(p.step_overhead!.overhead.p50), 'p99 ms': fmt(p.step_overhead!.overhead.p99), 'before spawn p50': fmt(p.step_overhead!.pre_spawn.p50), 'after exit p50': fmt(p.step_overhead!.post_exit.p50), 'process p50 ms': fmt(p.step_overhead!.agent.p50), 'executor agent_duration p50': fmt(p.step_overhead!.executor_agent.p50), 'runner peak RSS MB': fmt(p.runner_peak_rss_mb) }))));
  }

  process.stdout.write(`\n== compare: drain throughput (${nDrain} jobs running \`true\`, 2 at a time; load ${loadavg()}) ==\n`);
  const drainPlan: Array<[string, () => Promise<DrainResult | string>]> = [
    ['ours', () => drainOurs('git', nDrain)],
    ['ours-plain', () => drainOurs('plain', nDrain)],
    ['ours-cold', () => drainOurs('plain', nDrain, true)],
    ['bullmq', () => drainBull(false, nDrain)],
    ['bullmq-aof', () => drainBull(true, nDrain)],
    ['tsp', () => drainTsp(nDrain)],
    ['nq', () => drainNq(nDrain)],
  ];
  for (const [key, make] of drainPlan) {
    if (!want(key)) continue;
    process.stdout.write(`  ${key} (${machineState()})...`);
    keep(key, await make().catch((err: unknown) => `failed: ${err instanceof Error ? err.message : String(err)}`), drains);
    process.stdout.write(` done (load ${loadavg()})\n`);
  }
  const tspRate = drains.find((d) => d.name.startsWith('task-spooler'))?.jobs_per_s;
  console.log(table(drains.map((d) => ({ system: d.name, jobs: d.jobs, failed: d.failed, 'jobs/s': fmt(d.jobs_per_s), 's': fmt(d.seconds, 2), 'vs tsp': tspRate ? `×${fmt(d.jobs_per_s / tspRate, 2)}` : '—', 'enqueue jobs/s': fmt(d.enqueue_per_s), 'runner peak RSS MB': fmt(d.runner_peak_rss_mb), load: d.loadavg }))));
  const res: CompareResults = { pickup: pickups, drain: drains, skipped: { ...skippedPeers(), ...skipped } };
  console.log(`\nwrote ${writeResults('compare', { options: { pickups: nPick, jobs: nDrain, quick }, ...res })}`);
  return res;
}

if (import.meta.url === `file://${process.argv[1]}`) await runCompare();
