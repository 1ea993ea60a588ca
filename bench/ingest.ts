/**
 * Ingest benchmark: sustained durable `POST /webhook` throughput and latency at 64 concurrent
 * keep-alive connections, side by side with a bare fastify route that answers 202 without
 * writing anything (the ceiling), reported as a ratio.
 *
 *   node --import tsx bench/ingest.ts [--duration 10] [--connections 64] [--warmup 2]
 *
 * Each server runs in its own child process (this file with --serve), so the load generator (a
 * hand-rolled node:http keep-alive client, here) does not share an event loop with it. The
 * durable run's 202s are checked against the job files on disk afterwards. Prints a table and
 * writes bench/results/ingest.json.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

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

type Mode = 'durable' | 'ceiling';

interface ServerReady {
  port: number;
  home: string | null;
}

// ---------------------------------------------------------------- server side (child process)

async function serveChild(mode: Mode): Promise<void> {
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
  process.send?.({ port, home } satisfies ServerReady);
}

function startServer(mode: Mode): Promise<{ child: ChildProcess; ready: ServerReady }> {
  return new Promise((resolve, reject) => {
    const child = fork(HERE, ['--serve', mode], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, UV_THREADPOOL_SIZE: THREADPOOL } });
    child.once('message', (m) => resolve({ child, ready: m as ServerReady }));
    child.once('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)));
  });
}

// ---------------------------------------------------------------- load generator

interface RunResult {
  mode: Mode;
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
const round = (n: number, d = 2): number => Math.round(n * 10 ** d) / 10 ** d;

async function bench(mode: Mode, opts: { connections: number; seconds: number; warmup: number }): Promise<RunResult> {
  const { child, ready } = await startServer(mode);
  try {
    if (opts.warmup > 0) await load(ready.port, opts.connections, opts.warmup, false);
    const before = ready.home ? readdirSync(path.join(ready.home, 'var/queue/pending')).length : 0;
    const { lat, non2xx, errors, elapsed } = await load(ready.port, opts.connections, opts.seconds, true);
    const sorted = [...lat].sort((a, b) => a - b);
    const jobs = ready.home ? readdirSync(path.join(ready.home, 'var/queue/pending')).filter((f) => f.endsWith('.json')).length - before : null;
    return {
      mode,
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
      jobs_on_disk: jobs,
    };
  } finally {
    child.kill('SIGKILL');
    if (ready.home) rmSync(ready.home, { recursive: true, force: true });
  }
}

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : def;
  return Number.isFinite(v) && v >= 0 ? v : def;
}

async function main(): Promise<void> {
  const serveAt = process.argv.indexOf('--serve');
  if (serveAt >= 0) return serveChild(process.argv[serveAt + 1] === 'ceiling' ? 'ceiling' : 'durable');
  const opts = { connections: arg('connections', 64), seconds: arg('duration', 10), warmup: arg('warmup', 2) };
  process.stdout.write(`ingest bench: ${opts.connections} connections, ${opts.warmup} s warm-up + ${opts.seconds} s per server, node ${process.version}, ${os.cpus().length} CPU(s), server UV_THREADPOOL_SIZE=${THREADPOOL}, temp dir ${os.tmpdir()}\n`);
  const ceiling = await bench('ceiling', opts);
  const durable = await bench('durable', opts);
  const rows = [ceiling, durable];
  const cols: Array<[string, (r: RunResult) => string]> = [
    ['server', (r) => (r.mode === 'durable' ? 'POST /webhook (durable)' : 'bare fastify 202 (ceiling)')],
    ['req/s', (r) => String(r.rps)],
    ['p50 ms', (r) => r.p50_ms.toFixed(2)],
    ['p90 ms', (r) => r.p90_ms.toFixed(2)],
    ['p99 ms', (r) => r.p99_ms.toFixed(2)],
    ['max ms', (r) => r.max_ms.toFixed(2)],
    ['requests', (r) => String(r.requests)],
    ['non-2xx', (r) => String(r.non_2xx)],
    ['errors', (r) => String(r.errors)],
  ];
  const widths = cols.map(([h, f]) => Math.max(h.length, ...rows.map((r) => f(r).length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  process.stdout.write('\n' + line(cols.map(([h]) => h)) + '\n' + line(widths.map((w) => '-'.repeat(w))) + '\n');
  for (const r of rows) process.stdout.write(line(cols.map(([, f]) => f(r))) + '\n');
  const ratio = { throughput: round(durable.rps / Math.max(1, ceiling.rps), 3), p50: round(durable.p50_ms / Math.max(0.001, ceiling.p50_ms), 2), p99: round(durable.p99_ms / Math.max(0.001, ceiling.p99_ms), 2) };
  process.stdout.write(`\ndurable / ceiling: throughput ×${ratio.throughput}, p50 latency ×${ratio.p50}, p99 latency ×${ratio.p99}\n`);
  const durableOk = durable.jobs_on_disk === durable.requests - durable.non_2xx;
  process.stdout.write(`durability check: ${durable.jobs_on_disk} job files for ${durable.requests - durable.non_2xx} accepted requests${durableOk ? ' ✔' : ' ✘'}\n`);
  const outDir = path.join(path.dirname(HERE), 'results');
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, 'ingest.json');
  writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), node: process.version, cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? null, uv_threadpool_size: Number(THREADPOOL), tmpdir: os.tmpdir(), options: opts, results: rows, ratio, durable_check: durableOk }, null, 2) + '\n');
  process.stdout.write(`written: ${path.relative(process.cwd(), file)}\n`);
  if (!durableOk || durable.errors > 0) process.exitCode = 1;
}

await main();
