/**
 * Ingest benchmark: sustained durable `POST /webhook` throughput and latency at 64 concurrent
 * keep-alive connections, side by side with
 *  - the HTTP ceiling: the same fastify route answering 202 without writing anything;
 *  - the disk floor: a bare Node loop (64 at a time, same thread pool) of write + fsync + rename +
 *    fsync-dir, i.e. the least a durable, atomic, crash-safe enqueue can cost on this disk;
 * reported as ratios.
 *
 *   node --import tsx bench/ingest.ts [--duration 10] [--connections 64] [--warmup 2] [--quick]
 *
 * Load generator: wrk (apt, installed when missing; one thread, a Lua script for the POST) or,
 * when wrk is unavailable, a hand-rolled node:http keep-alive client. Each server runs in its own
 * child process (this file with --serve), so the load generator does not share an event loop with
 * it. The durable run's 202s are checked against the job files on disk afterwards. Prints a table
 * and writes bench/results/ingest.json.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { constants, promises as fsp } from 'node:fs';
import { benchEnv, discardLater, loadavg, machineState, procCpuMs, quickMode, run as runProgram } from './lib.ts';
import { ensureBinary } from './peers.ts';

const HERE = fileURLToPath(import.meta.url);
const TOKEN = 'bench-token-0123456789abcdef';
const PAYLOAD = JSON.stringify({
  goal: 'Webhook-triggered job: run the default plan → implement → review pipeline.',
  workdir: '.',
  tags: ['webhook', 'bench'],
  metadata: { source: 'bench' },
  policy: { sandbox: false, network: 'deny', allowed_binaries: ['opencode', 'codex', 'claude'] },
});

/** Servers run with the libuv thread pool the deploy/ units set (fsyncs run on it); override with UV_THREADPOOL_SIZE. */
const THREADPOOL = process.env.UV_THREADPOOL_SIZE || '32';
/** BENCH_CPU_PROF=<dir>: the durable server runs with --cpu-prof and writes its profile there. */
const PROFILE_DIR = process.env.BENCH_CPU_PROF;

type Mode = 'durable' | 'ceiling' | 'floor';

interface ServerReady {
  port: number;
  home: string | null;
}

// ---------------------------------------------------------------- server side (child process)

/** The disk floor: `connections` loops of write + fsync + rename + fsync-dir; answers {ops, lat[]} over IPC. */
async function floorChild(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-floor-'));
  const body = JSON.stringify({ ...JSON.parse(PAYLOAD) as object, job_id: 'f'.repeat(32), schema_version: '1.0', created_at: new Date().toISOString(), submitted_at: new Date().toISOString() }) + '\n';
  process.send?.({ port: 0, home: dir } satisfies ServerReady);
  process.on('message', (m: { seconds: number; connections: number; record: boolean }) => {
    void (async () => {
      const lat: number[] = [];
      let n = 0;
      const deadline = performance.now() + m.seconds * 1000;
      const worker = async (w: number): Promise<void> => {
        for (let i = 0; performance.now() < deadline; i++) {
          const t0 = performance.now();
          const tmp = path.join(dir, `.w${w}-${i}-${m.record ? 'r' : 'w'}.tmp`);
          const fh = await fsp.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
          await fh.writeFile(body);
          await fh.sync();
          await fh.close();
          await fsp.rename(tmp, path.join(dir, `j${w}-${i}-${m.record ? 'r' : 'w'}.json`));
          const dh = await fsp.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
          await dh.sync();
          await dh.close();
          n++;
          if (m.record) lat.push(performance.now() - t0);
        }
      };
      const started = performance.now();
      await Promise.all(Array.from({ length: m.connections }, (_, w) => worker(w)));
      process.send?.({ n, elapsed: (performance.now() - started) / 1000, lat });
    })();
  });
}

async function serveChild(mode: Mode): Promise<void> {
  if (mode === 'floor') return floorChild();
  if (mode === 'ceiling') {
    const { default: Fastify } = await import('fastify');
    const app = Fastify({ logger: false });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    app.post('/webhook', async (_req, reply) => reply.code(202).send({ status: 'queued', job_id: 'x'.repeat(32), artifacts_dir: '/dev/null', status_url: '/jobs/x' }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    process.send?.({ port: addr && typeof addr === 'object' ? addr.port : 0, home: null } satisfies ServerReady);
    return;
  }
  const { loadConfig } = await import('../lib/config.ts');
  const { createGateway } = await import('../gateway/server.ts');
  const home = mkdtempSync(path.join(os.tmpdir(), 'bench-ingest-'));
  const config = loadConfig({ ORCHESTRATOR_HOME: home, WEBHOOK_TOKEN: TOKEN, WEBHOOK_RATE_LIMIT_PER_MIN: '0' }, home);
  const gw = createGateway({ config });
  const { port } = await gw.listen({ host: '127.0.0.1', port: 0 });
  if (PROFILE_DIR) process.once('SIGINT', () => process.exit(0));
  process.send?.({ port, home } satisfies ServerReady);
}

function startServer(mode: Mode): Promise<{ child: ChildProcess; ready: ServerReady }> {
  return new Promise((resolve, reject) => {
    const child = fork(HERE, ['--serve', mode], { execArgv: ['--import', 'tsx', ...(PROFILE_DIR && mode === 'durable' ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: benchEnv({ UV_THREADPOOL_SIZE: THREADPOOL }) });
    child.once('message', (m) => resolve({ child, ready: m as ServerReady }));
    child.once('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)));
  });
}

// ---------------------------------------------------------------- load generator

interface RunResult {
  mode: Mode;
  generator: string;
  requests: number;
  seconds: number;
  rps: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
  mean_ms: number;
  non_2xx: number;
  errors: number;
  jobs_on_disk: number | null;
  /** The server's CPU per request during the measured run (µs; all threads, and its main thread). */
  cpu_us_per_req: { total: number; main: number } | null;
}

function post(agent: http.Agent, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/webhook', method: 'POST', agent, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(PAYLOAD) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(PAYLOAD);
  });
}

async function load(port: number, connections: number, seconds: number, record: boolean): Promise<{ lat: number[]; non2xx: number; errors: number; elapsed: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const lat: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        const status = await post(agent, port);
        if (record) lat.push(performance.now() - t0);
        if (status < 200 || status >= 300) non2xx++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  return { lat, non2xx, errors, elapsed };
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

/** wrk's Lua script: the same POST as the node client. */
function wrkScript(dir: string): string {
  const file = path.join(dir, 'post.lua');
  writeFileSync(file, [
    'wrk.method = "POST"',
    `wrk.body = ${JSON.stringify(PAYLOAD)}`,
    'wrk.headers["Content-Type"] = "application/json"',
    `wrk.headers["Authorization"] = "Bearer ${TOKEN}"`,
    '',
  ].join('\n'));
  return file;
}

const unitMs = (v: string, unit: string): number => Number(v) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 1);

/** One wrk run; latencies from its --latency distribution (50/75/90/99 %). */
async function wrkLoad(wrk: string, port: number, connections: number, seconds: number, script: string): Promise<{ requests: number; elapsed: number; p50: number; p90: number; p99: number; max: number; mean: number; non2xx: number; errors: number }> {
  const r = await runProgram(wrk, ['-t1', `-c${connections}`, `-d${Math.max(1, Math.round(seconds))}s`, '--latency', '-s', script, `http://127.0.0.1:${port}/webhook`], { timeoutMs: (seconds + 30) * 1000 });
  const out = r.stdout;
  const lat = (p: string): number => {
    const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s|m)`).exec(out);
    return m ? unitMs(m[1]!, m[2]!) : NaN;
  };
  const stat = /Latency\s+([\d.]+)(us|ms|s|m)\s+([\d.]+)(us|ms|s|m)\s+([\d.]+)(us|ms|s|m)/.exec(out);
  const reqs = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requests: Number(reqs?.[1] ?? 0),
    elapsed: reqs ? unitMs(reqs[2]!, reqs[3]!) / 1000 : seconds,
    p50: lat('50'),
    p90: lat('90'),
    p99: lat('99'),
    max: stat ? unitMs(stat[5]!, stat[6]!) : NaN,
    mean: stat ? unitMs(stat[1]!, stat[2]!) : NaN,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    errors: errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}
const round = (n: number, d = 2): number => Math.round(n * 10 ** d) / 10 ** d;

async function floorRun(child: ChildProcess, seconds: number, connections: number, record: boolean): Promise<{ n: number; elapsed: number; lat: number[] }> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as { n: number; elapsed: number; lat: number[] }));
    child.send({ seconds, connections, record });
  });
}

async function bench(mode: Mode, opts: { connections: number; seconds: number; warmup: number; wrk: string | null; script: string }): Promise<RunResult> {
  const { child, ready } = await startServer(mode);
  let cpu0: ReturnType<typeof procCpuMs>;
  const markCpu = (): void => {
    cpu0 = child.pid ? procCpuMs(child.pid) : undefined;
  };
  const cpuPerReq = (requests: number): RunResult['cpu_us_per_req'] => {
    const cpu1 = child.pid ? procCpuMs(child.pid) : undefined;
    if (!cpu0 || !cpu1 || requests <= 0) return null;
    return { total: round(((cpu1.total - cpu0.total) * 1000) / requests, 0), main: round(((cpu1.main - cpu0.main) * 1000) / requests, 0) };
  };
  try {
    if (mode === 'floor') {
      if (opts.warmup > 0) await floorRun(child, opts.warmup, opts.connections, false);
      markCpu();
      const { n, elapsed, lat } = await floorRun(child, opts.seconds, opts.connections, true);
      const cpu = cpuPerReq(n);
      const sorted = [...lat].sort((a, b) => a - b);
      return { mode, generator: 'in-process loop', requests: n, seconds: round(elapsed), rps: round(n / elapsed, 0), p50_ms: round(pct(sorted, 50)), p90_ms: round(pct(sorted, 90)), p99_ms: round(pct(sorted, 99)), max_ms: round(sorted.at(-1) ?? 0), mean_ms: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)), non_2xx: 0, errors: 0, jobs_on_disk: null, cpu_us_per_req: cpu };
    }
    const pendingCount = (): number => (ready.home ? readdirSync(path.join(ready.home, 'var/queue/pending')).filter((f) => f.endsWith('.json')).length : 0);
    /** Requests the load generator abandoned at its deadline still land: wait until the count is stable. */
    const settled = async (): Promise<number> => {
      let last = -1;
      for (let n = pendingCount(); n !== last; n = pendingCount()) {
        last = n;
        await new Promise((r) => setTimeout(r, 300));
      }
      return last;
    };
    if (opts.wrk) {
      if (opts.warmup > 0) await wrkLoad(opts.wrk, ready.port, opts.connections, opts.warmup, opts.script);
      const before = await settled();
      markCpu();
      const r = await wrkLoad(opts.wrk, ready.port, opts.connections, opts.seconds, opts.script);
      const cpu = cpuPerReq(r.requests);
      return { mode, generator: 'wrk -t1', requests: r.requests, seconds: round(r.elapsed), rps: round(r.requests / r.elapsed, 0), p50_ms: round(r.p50), p90_ms: round(r.p90), p99_ms: round(r.p99), max_ms: round(r.max), mean_ms: round(r.mean), non_2xx: r.non2xx, errors: r.errors, jobs_on_disk: ready.home ? (await settled()) - before : null, cpu_us_per_req: cpu };
    }
    if (opts.warmup > 0) await load(ready.port, opts.connections, opts.warmup, false);
    const before = await settled();
    markCpu();
    const { lat, non2xx, errors, elapsed } = await load(ready.port, opts.connections, opts.seconds, true);
    const cpu = cpuPerReq(lat.length);
    const sorted = [...lat].sort((a, b) => a - b);
    return {
      mode,
      generator: 'node:http client',
      requests: lat.length,
      seconds: round(elapsed),
      rps: round(lat.length / elapsed, 0),
      p50_ms: round(pct(sorted, 50)),
      p90_ms: round(pct(sorted, 90)),
      p99_ms: round(pct(sorted, 99)),
      max_ms: round(sorted.at(-1) ?? 0),
      mean_ms: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)),
      non_2xx: non2xx,
      errors,
      jobs_on_disk: ready.home ? (await settled()) - before : null,
      cpu_us_per_req: cpu,
    };
  } finally {
    if (PROFILE_DIR && mode === 'durable') {
      // a clean exit, so that --cpu-prof writes its profile
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exited;
    } else child.kill('SIGKILL');
    if (ready.home) discardLater(ready.home);
  }
}

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : def;
  return Number.isFinite(v) && v >= 0 ? v : def;
}

export interface IngestResults {
  options: { connections: number; seconds: number; warmup: number };
  results: RunResult[];
  ratio: { vs_ceiling: number; vs_floor: number };
  durable_check: boolean;
  loadavg: string;
}

export async function runIngest(o: { quick?: boolean } = {}): Promise<IngestResults> {
  const quick = o.quick ?? quickMode();
  const opts = { connections: arg('connections', 64), seconds: arg('duration', quick ? 4 : 10), warmup: arg('warmup', quick ? 1 : 2) };
  const wrk = await ensureBinary('wrk');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-wrk-'));
  const script = wrkScript(tmp);
  process.stdout.write(`\n== ingest: POST /webhook at ${opts.connections} connections, ${opts.warmup} s warm-up + ${opts.seconds} s each; load generator ${wrk ? 'wrk -t1' : 'node:http client (wrk unavailable)'}; server UV_THREADPOOL_SIZE=${THREADPOOL}; temp dir ${os.tmpdir()}; load ${loadavg()} ==\n`);
  const run = async (mode: Mode): Promise<RunResult> => {
    process.stdout.write(`  ${mode} (${machineState()})\n`);
    return bench(mode, { ...opts, wrk, script });
  };
  const ceiling = await run('ceiling');
  const durable = await run('durable');
  const floor = await run('floor');
  discardLater(tmp);
  const rows = [ceiling, durable, floor];
  const name = (r: RunResult): string => (r.mode === 'durable' ? 'POST /webhook (durable enqueue)' : r.mode === 'ceiling' ? 'fastify 202, no write (HTTP ceiling)' : 'write+fsync+rename+fsync-dir loop (disk floor)');
  const cols: Array<[string, (r: RunResult) => string]> = [
    ['server', name],
    ['jobs/s', (r) => String(r.rps)],
    ['p50 ms', (r) => r.p50_ms.toFixed(2)],
    ['p90 ms', (r) => r.p90_ms.toFixed(2)],
    ['p99 ms', (r) => r.p99_ms.toFixed(2)],
    ['max ms', (r) => r.max_ms.toFixed(2)],
    ['requests', (r) => String(r.requests)],
    ['non-2xx', (r) => String(r.non_2xx)],
    ['errors', (r) => String(r.errors)],
    ['cpu µs/req (main)', (r) => (r.cpu_us_per_req ? `${r.cpu_us_per_req.total} (${r.cpu_us_per_req.main})` : '—')],
  ];
  const widths = cols.map(([h, f]) => Math.max(h.length, ...rows.map((r) => f(r).length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  process.stdout.write(line(cols.map(([h]) => h)) + '\n' + line(widths.map((w) => '-'.repeat(w))) + '\n');
  for (const r of rows) process.stdout.write(line(cols.map(([, f]) => f(r))) + '\n');
  const ratio = { vs_ceiling: round(durable.rps / Math.max(1, ceiling.rps), 3), vs_floor: round(durable.rps / Math.max(1, floor.rps), 3) };
  process.stdout.write(`durable / HTTP ceiling: ×${ratio.vs_ceiling}; durable / disk floor: ×${ratio.vs_floor}\n`);
  // every 202 has its job file; requests still in flight when wrk stopped (at most one per connection) land too
  const accepted = durable.requests - durable.non_2xx;
  const durableOk = durable.jobs_on_disk !== null && durable.jobs_on_disk >= accepted && durable.jobs_on_disk <= accepted + opts.connections;
  process.stdout.write(`durability check: ${durable.jobs_on_disk} job files for ${accepted} accepted requests (+ up to ${opts.connections} in flight at the cut-off)${durableOk ? ' ✔' : ' ✘'}\n`);
  const outDir = path.join(path.dirname(HERE), 'results');
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, 'ingest.json');
  const res: IngestResults = { options: opts, results: rows, ratio, durable_check: durableOk, loadavg: loadavg() };
  writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), node: process.version, cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? null, uv_threadpool_size: Number(THREADPOOL), tmpdir: os.tmpdir(), ...res }, null, 2) + '\n');
  process.stdout.write(`wrote ${file}\n`);
  if (!durableOk || durable.errors > 0) process.exitCode = 1;
  return res;
}

const serveAt = process.argv.indexOf('--serve');
if (serveAt >= 0) {
  const m = process.argv[serveAt + 1];
  await serveChild(m === 'ceiling' ? 'ceiling' : m === 'floor' ? 'floor' : 'durable');
} else if (import.meta.url === `file://${process.argv[1]}`) {
  await runIngest();
}
