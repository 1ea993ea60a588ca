/**
 * Scale: does anything slow down as the queue grows? With 100, 10,000 and 100,000 jobs (--quick:
 * 100, 2,000, 10,000) in pending/ and, separately, in done/:
 *  - claim latency (the runner's claim: index pop + rename), p50/p99 over 200 claims, plus the
 *    scanner's initial scan and its periodic rescan of pending/, unchanged (skipped by the mtime
 *    check) and after the claims changed it (a full listing);
 *  - `orchestrator status <id>`, `orchestrator status` and `orchestrator list --limit 50`
 *    (the compiled CLI, a fresh process each time): median of 5;
 *  - the runner's RSS (VmHWM) over its first seconds with that queue (a real runner process);
 *  - GET /metrics on `orchestrator gateway` (median of 10 scrapes after 2 warm-up ones), then
 *    GET /jobs?limit=50 on it: its first listing, and the median of the next 10.
 *
 * SETUP ONLY (not the product's path): the N jobs are written straight into the state directory in
 * the queue's own file format (`<job_id>.json` = the normalized job + "\n", plus its `ids/` entry),
 * without fsyncs, so 100,000 jobs take seconds, not minutes. What is measured then runs the product.
 *
 * Run alone: node --import tsx bench/scale.ts [--quick] [--sizes 100,10000,100000]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { NormalizedJob } from '../contracts/index.ts';
import { normalizeJob } from '../contracts/normalize.ts';
import { createQueue, type FsQueue } from '../fsqueue/queue.ts';
import { loadConfig } from '../lib/config.ts';
import { silentLogger } from '../lib/logger.ts';
import { PendingScanner } from '../runner/scanner.ts';
import { freePort } from './peers.ts';
import { benchEnv, benchHome, discardLater, DIST_MAIN, ensureDist, fmt, loadavg, percentile, quickMode, run, sleep, startRunner, table, writeResults } from './lib.ts';

/** SETUP ONLY: N job files written directly (non-durable) into `state`, in the queue's format. */
function bulkWrite(queue: FsQueue, state: 'pending' | 'done', n: number): string[] {
  const base = Date.now() - n;
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `${state}${String(i).padStart(26, '0')}`;
    const job: NormalizedJob = normalizeJob({ job_id: id, goal: `scale ${i}`, steps: [{ step_id: 's', agent: 'command', command: ['true'], max_retries: 0 }] }, { now: new Date(base + i), newId: () => id, sourceType: 'manual' });
    writeFileSync(queue.pathOf(state, id), JSON.stringify(job) + '\n');
    writeFileSync(path.join(queue.idsDir, id), '');
    ids.push(id);
  }
  return ids;
}

const median = (v: number[]): number => percentile(v, 50);

async function cliTime(home: string, args: string[], times = 5): Promise<{ median_ms: number; max_ms: number; ok: boolean }> {
  const t: number[] = [];
  let ok = true;
  for (let i = 0; i < times; i++) {
    const r = await run(process.execPath, [DIST_MAIN, ...args], { env: benchEnv({ ORCHESTRATOR_HOME: home, LOG_LEVEL: 'warn' }), cwd: home, timeoutMs: 120_000 });
    if (r.code !== 0) ok = false;
    t.push(r.ms);
  }
  return { median_ms: median(t), max_ms: Math.max(...t), ok };
}

interface GatewayTimes {
  metrics: { median_ms: number; max_ms: number };
  /** GET /jobs?limit=50: the gateway's first listing (every job file stat()ed), then the median of 10 more. */
  jobs: { first_ms: number; median_ms: number };
}

async function gatewayTimes(home: string): Promise<GatewayTimes | null> {
  const port = await freePort();
  const token = 'bench-token-0123456789';
  const child = spawn(process.execPath, [DIST_MAIN, 'gateway', '--port', String(port), '--host', '127.0.0.1'], { cwd: home, env: benchEnv({ ORCHESTRATOR_HOME: home, LOG_LEVEL: 'warn', WEBHOOK_TOKEN: token }), stdio: ['ignore', 'ignore', 'inherit'] });
  const timed = async (url: string, headers: Record<string, string> = {}): Promise<number> => {
    const t0 = performance.now();
    const r = await fetch(url, { headers });
    await r.text();
    return performance.now() - t0;
  };
  try {
    const url = `http://127.0.0.1:${port}/metrics`;
    let up = false;
    for (let i = 0; i < 300 && !up; i++) {
      up = await fetch(url).then((r) => r.ok, () => false);
      if (!up) await sleep(50);
    }
    if (!up) return null;
    const t: number[] = [];
    for (let i = 0; i < 12; i++) {
      const ms = await timed(url);
      if (i >= 2) t.push(ms);
    }
    const jobsUrl = `http://127.0.0.1:${port}/jobs?limit=50`;
    const auth = { authorization: `Bearer ${token}` };
    const first = await timed(jobsUrl, auth);
    const j: number[] = [];
    for (let i = 0; i < 10; i++) j.push(await timed(jobsUrl, auth));
    return { metrics: { median_ms: median(t), max_ms: Math.max(...t) }, jobs: { first_ms: first, median_ms: median(j) } };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

interface ScaleRow {
  state: 'pending' | 'done';
  jobs: number;
  setup_s: number;
  initial_scan_ms?: number;
  rescan_ms?: number;
  rescan_changed_ms?: number;
  claim_p50_ms?: number;
  claim_p99_ms?: number;
  status_id_ms: number;
  status_overview_ms: number;
  list_ms: number;
  list_state_ms: number;
  runner_rss_mb: number;
  runner_first_claim_s?: number;
  metrics_ms: number | null;
  metrics_max_ms: number | null;
  /** GET /jobs?limit=50 on a gateway: its first listing, then the median of later ones. */
  api_list_first_ms: number | null;
  api_list_ms: number | null;
  loadavg: string;
}

async function one(state: 'pending' | 'done', n: number): Promise<ScaleRow> {
  const home = await benchHome(`scale-${state}-${n}`);
  try {
    const config = loadConfig({ ORCHESTRATOR_HOME: home }, home);
    const queue = createQueue(config.paths.queueRoot);
    await queue.init();
    const t = performance.now();
    const ids = bulkWrite(queue, state, n);
    const setupS = (performance.now() - t) / 1000;
    const probe = ids[Math.floor(ids.length / 2)]!;
    const row: ScaleRow = { state, jobs: n, setup_s: setupS, status_id_ms: NaN, status_overview_ms: NaN, list_ms: NaN, list_state_ms: NaN, runner_rss_mb: NaN, metrics_ms: null, metrics_max_ms: null, api_list_first_ms: null, api_list_ms: null, loadavg: '' };

    // CLI and /metrics first, while the queue is exactly N
    row.status_id_ms = (await cliTime(home, ['status', probe])).median_ms;
    row.status_overview_ms = (await cliTime(home, ['status'])).median_ms;
    row.list_ms = (await cliTime(home, ['list', '--limit', '50'])).median_ms;
    row.list_state_ms = (await cliTime(home, ['list', '--state', state, '--limit', '50'])).median_ms;
    const g = await gatewayTimes(home);
    row.metrics_ms = g?.metrics.median_ms ?? null;
    row.metrics_max_ms = g?.metrics.max_ms ?? null;
    row.api_list_first_ms = g?.jobs.first_ms ?? null;
    row.api_list_ms = g?.jobs.median_ms ?? null;

    if (state === 'pending') {
      // the runner's claim path, in-process: the index (initial scan), a periodic rescan, then claims
      const scanner = new PendingScanner(queue, silentLogger(), () => undefined, () => undefined);
      const s0 = performance.now();
      await scanner.scan();
      row.initial_scan_ms = performance.now() - s0;
      const r0 = performance.now();
      await scanner.scan();
      row.rescan_ms = performance.now() - r0;
      const lat: number[] = [];
      const claims = Math.min(200, Math.floor(n / 2));
      for (let i = 0; i < claims; i++) {
        const c0 = performance.now();
        const e = scanner.index.pop();
        if (!e) break;
        await queue.move(e.id, 'pending', 'running', { durable: false });
        lat.push(performance.now() - c0);
      }
      row.claim_p50_ms = percentile(lat, 50);
      row.claim_p99_ms = percentile(lat, 99);
      // the claims changed pending/: this rescan lists it again
      const c0 = performance.now();
      await scanner.scan();
      row.rescan_changed_ms = performance.now() - c0;
      await scanner.close();
    }

    // a real runner over this queue: RSS over its first seconds (it claims and runs pending jobs)
    const runner = await startRunner(home, { RUNNER_CONCURRENCY: '2', WORKSPACE_MODE: 'plain' }, { waitReady: false });
    const r0 = performance.now();
    if (state === 'pending') {
      // the first claim creates the job's artifact directory
      const artifacts = config.paths.artifactsRoot;
      mkdirSync(artifacts, { recursive: true });
      const deadline = Date.now() + 300_000;
      row.runner_first_claim_s = NaN;
      while (Date.now() < deadline) {
        if (readdirSync(artifacts).length > 0) {
          row.runner_first_claim_s = (performance.now() - r0) / 1000;
          break;
        }
        await sleep(20);
      }
    }
    await sleep(3000);
    row.runner_rss_mb = runner.peakRssMb();
    await runner.stop();
    row.loadavg = loadavg();
    return row;
  } finally {
    discardLater(home);
  }
}

export async function runScale(o: { quick?: boolean; sizes?: number[] } = {}): Promise<{ rows: ScaleRow[] }> {
  ensureDist();
  const quick = o.quick ?? quickMode();
  const sizesArg = process.argv.indexOf('--sizes');
  const sizes = o.sizes ?? (sizesArg > 0 ? (process.argv[sizesArg + 1] ?? '').split(',').map(Number) : quick ? [100, 2_000, 10_000] : [100, 10_000, 100_000]);
  process.stdout.write(`\n== scale: ${sizes.join(', ')} jobs in pending/ and in done/ (load ${loadavg()}) ==\n`);
  const rows: ScaleRow[] = [];
  for (const state of ['pending', 'done'] as const) {
    for (const n of sizes) {
      process.stdout.write(`  ${state} ${n}...`);
      rows.push(await one(state, n));
      process.stdout.write(` done (load ${loadavg()})\n`);
    }
  }
  console.log(table(rows.map((r) => ({
    state: r.state,
    jobs: r.jobs,
    'claim p50 ms': fmt(r.claim_p50_ms, 3),
    'claim p99 ms': fmt(r.claim_p99_ms, 3),
    'initial scan ms': fmt(r.initial_scan_ms, 0),
    'rescan (unchanged) ms': fmt(r.rescan_ms, 1),
    'rescan (changed) ms': fmt(r.rescan_changed_ms, 1),
    'runner 1st claim s': fmt(r.runner_first_claim_s, 2),
    'runner RSS MB': fmt(r.runner_rss_mb),
    'status <id> ms': fmt(r.status_id_ms, 0),
    'status ms': fmt(r.status_overview_ms, 0),
    'list ms': fmt(r.list_ms, 0),
    'list --state ms': fmt(r.list_state_ms, 0),
    '/metrics ms': fmt(r.metrics_ms ?? NaN, 1),
    'GET /jobs 1st / next ms': `${fmt(r.api_list_first_ms ?? NaN, 0)} / ${fmt(r.api_list_ms ?? NaN, 1)}`,
    load: r.loadavg,
  }))));
  console.log(`(setup: job files written directly, non-durable, bench only: ${rows.map((r) => `${r.jobs} in ${fmt(r.setup_s, 1)} s`).join(', ')})`);
  const res = { sizes, rows };
  console.log(`\nwrote ${writeResults('scale', res)}`);
  return res;
}

if (import.meta.url === `file://${process.argv[1]}`) await runScale();
