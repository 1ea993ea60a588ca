/**
 * Core benchmark (issue: core queue and runner):
 *  1. drain: N one-step simulated jobs from submit to done through a real runner process
 *     (RUNNER_CONCURRENCY=2): jobs/s and the runner's peak RSS (VmHWM);
 *  2. pickup latency: an idle runner, jobs submitted one by one: submit → step started, p50/p99;
 *  3. claim latency with 100 and 10,000 jobs pending (index pop + rename), p50/p99, and the cost
 *     of the initial scan.
 * Run: node --import tsx bench/core.ts [--jobs 1000]
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../lib/config.ts';
import { createQueue } from '../fsqueue/queue.ts';
import type { Job } from '../contracts/index.ts';
import { normalizeJob } from '../contracts/normalize.ts';
import { newJobId } from '../lib/ids.ts';
import { silentLogger } from '../lib/logger.ts';
import { PendingScanner } from '../runner/scanner.ts';
import { submitJob } from '../runner/submit.ts';
import { benchHome, discardLater, fmt, percentile, table, writeResults } from './lib.ts';

const BIN = path.resolve(import.meta.dirname, '../bin/orchestrator.js');
const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};

function startRunner(env: Record<string, string>): { pid: number; stop: () => Promise<void>; peakRssMb: () => number } {
  const child = spawn(process.execPath, [BIN, 'runner'], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  let peak = 0;
  const timer = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]) / 1024);
    } catch {
      // exited
    }
  }, 100);
  return {
    pid: child.pid ?? 0,
    peakRssMb: () => peak,
    stop: () => new Promise((resolve) => {
      clearInterval(timer);
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

const oneStep = (i: number): Job => ({ goal: `bench ${i}`, steps: [{ step_id: 's', agent: 'claude', max_retries: 0 }] });

async function drain(n: number): Promise<Record<string, number>> {
  const home = await benchHome('drain');
  const env = { ORCHESTRATOR_HOME: home, RUNNER_CONCURRENCY: '2', RUNNER_SCAN_INTERVAL_MS: '1000' };
  const config = loadConfig(env, home);
  const queue = createQueue(config.paths.queueRoot);
  await queue.init();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await submitJob(oneStep(i), { queue, artifactsRoot: config.paths.artifactsRoot, sourceType: 'manual' });
  const enqueueMs = performance.now() - t0;
  const runner = startRunner(env);
  const t1 = performance.now();
  while (readdirSync(queue.dir('done')).length + readdirSync(queue.dir('failed')).length < n) await new Promise((r) => setTimeout(r, 50));
  const drainMs = performance.now() - t1;
  const peak = runner.peakRssMb();
  await runner.stop();
  const failed = readdirSync(queue.dir('failed')).length;
  discardLater(home);
  return { jobs: n, failed, enqueue_per_s: n / (enqueueMs / 1000), drain_jobs_per_s: n / (drainMs / 1000), runner_peak_rss_mb: peak };
}

async function pickup(n: number): Promise<Record<string, number>> {
  const home = await benchHome('pickup');
  const env = { ORCHESTRATOR_HOME: home, RUNNER_CONCURRENCY: '2' };
  const config = loadConfig(env, home);
  const queue = createQueue(config.paths.queueRoot);
  await queue.init();
  const runner = startRunner(env);
  await new Promise((r) => setTimeout(r, 1500)); // idle runner
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const { job } = await submitJob(oneStep(i), { queue, artifactsRoot: config.paths.artifactsRoot, sourceType: 'manual' });
    const events = path.join(config.paths.artifactsRoot, job.job_id, 'events.jsonl');
    for (;;) {
      let text = '';
      try { text = readFileSync(events, 'utf8'); } catch { /* not yet */ }
      const line = text.split('\n').find((l) => l.includes('"step:started"'));
      if (line) {
        lat.push(Date.parse((JSON.parse(line) as { at: string }).at) - Date.parse(job.submitted_at));
        break;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    while (!readdirSync(queue.dir('done')).includes(`${job.job_id}.json`)) await new Promise((r) => setTimeout(r, 5));
  }
  await runner.stop();
  discardLater(home);
  return { jobs: n, p50_ms: percentile(lat, 50), p99_ms: percentile(lat, 99), max_ms: Math.max(...lat) };
}

async function claim(pending: number, claims: number): Promise<Record<string, number>> {
  const home = await benchHome('claim');
  const config = loadConfig({ ORCHESTRATOR_HOME: home }, home);
  const queue = createQueue(config.paths.queueRoot);
  await queue.init();
  const now = new Date();
  for (let i = 0; i < pending; i++) await queue.enqueue(normalizeJob(oneStep(i), { now, newId: newJobId }));
  const scanner = new PendingScanner(queue, silentLogger(), () => undefined, () => undefined);
  const s0 = performance.now();
  await scanner.scan();
  const scanMs = performance.now() - s0;
  const lat: number[] = [];
  for (let i = 0; i < Math.min(claims, pending); i++) {
    const t = performance.now();
    const e = scanner.index.pop();
    if (!e) break;
    await queue.move(e.id, 'pending', 'running', { durable: false });
    lat.push(performance.now() - t);
  }
  discardLater(home);
  return { pending, initial_scan_ms: scanMs, claim_p50_ms: percentile(lat, 50), claim_p99_ms: percentile(lat, 99) };
}

export async function runCoreBench(opts: { jobs?: number; pickups?: number; bigPending?: number } = {}): Promise<Record<string, unknown>> {
  const jobs = opts.jobs ?? arg('jobs', 1000);
  const d = await drain(jobs);
  const p = await pickup(opts.pickups ?? arg('pickups', 100));
  const c1 = await claim(100, 100);
  const c2 = await claim(opts.bigPending ?? arg('pending', 10_000), 1000);
  console.log('\n== core: drain (one-step simulated jobs, RUNNER_CONCURRENCY=2, real runner process) ==');
  console.log(table([{ jobs: d.jobs!, failed: d.failed!, 'enqueue jobs/s': fmt(d.enqueue_per_s!), 'drain jobs/s': fmt(d.drain_jobs_per_s!), 'runner peak RSS MB': fmt(d.runner_peak_rss_mb!) }]));
  console.log('\n== core: pickup latency (idle runner; submit → agent step started) ==');
  console.log(table([{ jobs: p.jobs!, 'p50 ms': fmt(p.p50_ms!), 'p99 ms': fmt(p.p99_ms!), 'max ms': fmt(p.max_ms!) }]));
  console.log('\n== core: claim latency (index pop + rename) ==');
  console.log(table([c1, c2].map((c) => ({ pending: c.pending!, 'initial scan ms': fmt(c.initial_scan_ms!), 'claim p50 ms': fmt(c.claim_p50_ms!, 3), 'claim p99 ms': fmt(c.claim_p99_ms!, 3) }))));
  const res = { drain: d, pickup: p, claim: [c1, c2] };
  console.log(`\nwrote ${writeResults('core', res)}`);
  return res;
}

if (import.meta.url === `file://${process.argv[1]}`) await runCoreBench();
