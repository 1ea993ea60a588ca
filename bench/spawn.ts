/**
 * What one agent spawn costs the process that spawns it, by that process's resident memory.
 *
 *   node --import tsx bench/spawn.ts [--rounds 200]
 *
 * Node's child_process.spawn (libuv) forks the calling process, and the call returns only once the
 * child has exec'd: the event loop is blocked for the fork (copying the page tables of every
 * resident anonymous page) plus the child's exec (tearing that copy down). Each row runs in a
 * fresh Node process that first allocates and touches N MB (the runner holds ~30 MB of anonymous
 * memory idle and 45-75 MB while it drains jobs), then spawns `true` `--rounds` times, one at a
 * time: the blocked time of the `spawn()` call itself, and spawn -> exit. This is the largest
 * single item in a drain's CPU profile of the runner (bench/README.md, "What limits the rest").
 */
import { spawnSync } from 'node:child_process';
import { benchEnv, fmt, loadavg, table, writeResults } from './lib.ts';

const roundsAt = process.argv.indexOf('--rounds');
const rounds = roundsAt > 0 ? Number(process.argv[roundsAt + 1]) : 200;

/** Runs in the child: allocate, then measure. Prints one JSON line. */
const PROBE = `
const { spawn } = require('node:child_process');
const keep = [];
for (let i = 0; i < Number(process.argv[1]); i++) keep.push(Buffer.alloc(1 << 20, 1));
const rounds = Number(process.argv[2]);
const one = () => new Promise((resolve) => {
  const t0 = process.hrtime.bigint();
  const c = spawn('/bin/true', [], { stdio: 'ignore' });
  const t1 = process.hrtime.bigint();
  c.on('close', () => resolve([Number(t1 - t0) / 1e6, Number(process.hrtime.bigint() - t0) / 1e6]));
});
(async () => {
  for (let i = 0; i < 20; i++) await one();
  const call = [], total = [];
  for (let i = 0; i < rounds; i++) { const [a, b] = await one(); call.push(a); total.push(b); }
  const p = (xs, q) => xs.sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
  const anon = Number(/RssAnon:\\s+(\\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
  console.log(JSON.stringify({ anon_mb: anon, call_p50: p(call, 0.5), call_p90: p(call, 0.9), total_p50: p(total, 0.5) }));
})();
`;

interface Row {
  extra_mb: number;
  anon_mb: number;
  call_p50: number;
  call_p90: number;
  total_p50: number;
}

const rows: Row[] = [];
process.stdout.write(`== spawn cost by the spawning process's memory (${rounds} spawns of /bin/true each; load ${loadavg()}) ==\n`);
for (const extra of [0, 32, 64, 128]) {
  const out = spawnSync(process.execPath, ['-e', PROBE, String(extra), String(rounds)], { env: benchEnv(), encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`bench/spawn: probe failed: ${out.stderr}`);
  rows.push({ extra_mb: extra, ...(JSON.parse(out.stdout.trim()) as Omit<Row, 'extra_mb'>) });
}
process.stdout.write(
  table(
    rows.map((r) => ({ 'anonymous RSS MB': fmt(r.anon_mb, 0), 'spawn() blocks p50 ms': fmt(r.call_p50, 2), 'p90 ms': fmt(r.call_p90, 2), 'spawn -> exit p50 ms': fmt(r.total_p50, 2) })),
  ) + '\n',
);
const [lo, hi] = [rows[0]!, rows[rows.length - 1]!];
process.stdout.write(`cost per resident MB: ${fmt((1000 * (hi.call_p50 - lo.call_p50)) / (hi.anon_mb - lo.anon_mb), 1)} µs of blocked event loop\n`);
process.stdout.write(`wrote ${writeResults('spawn', { rounds, loadavg: loadavg(), rows })}\n`);
