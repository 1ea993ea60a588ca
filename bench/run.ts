/**
 * `npm run bench`: every benchmark of the performance issue, one after the other, then one table
 * of measured vs target. Each part prints its own table and writes bench/results/<name>.json; the
 * summary goes to bench/results/summary.json. See bench/README.md.
 *
 *   npm run bench                      # the full run (~15 min on 2 cores)
 *   npm run bench -- --quick           # smaller sizes (~3 min)
 *   npm run bench -- --only compare,scale
 */
import os from 'node:os';
import { runCompare, type CompareResults } from './compare.ts';
import { runFlood } from './flood.ts';
import { runIngest, type IngestResults } from './ingest.ts';
import { ensureDist, ENV_NOTE, fmt, loadavg, table, verdict, writeResults } from './lib.ts';
import { skippedPeers } from './peers.ts';
import { runScale } from './scale.ts';

const quick = process.argv.includes('--quick');
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt > 0 ? (process.argv[onlyAt + 1] ?? '').split(',') : null;
const want = (k: string): boolean => !only || only.includes(k);

const started = Date.now();
process.stdout.write(`bench: ${quick ? 'quick' : 'full'} run, node ${process.version}, ${os.cpus().length} CPU(s) (${os.cpus()[0]?.model ?? '?'}), load ${loadavg()} at start; ${ENV_NOTE}\n`);
ensureDist();

interface Row {
  target: string;
  measured: string;
  goal: string;
  ok: boolean | undefined;
  load: string;
}
const rows: Row[] = [];
const add = (target: string, measured: string, goal: string, ok: boolean | undefined, load: string): void => {
  rows.push({ target, measured, goal, ok, load });
};

let compare: CompareResults | undefined;
if (want('compare')) compare = await runCompare({ quick });
let ingest: IngestResults | undefined;
if (want('ingest')) ingest = await runIngest({ quick });
const scale = want('scale') ? await runScale({ quick }) : undefined;
const flood = want('flood') ? await runFlood({ quick }) : undefined;

if (compare) {
  const ours = compare.pickup.find((p) => p.name.startsWith('ours (git'));
  const bull = compare.pickup.find((p) => p.name.startsWith('BullMQ (Redis defaults)'));
  if (ours) {
    add('pickup p50 ≤ BullMQ p50', `${fmt(ours.latency_ms.p50, 1)} ms vs ${bull ? fmt(bull.latency_ms.p50, 1) : '—'} ms`, '≤ BullMQ', bull ? ours.latency_ms.p50 <= bull.latency_ms.p50 : undefined, ours.loadavg);
    add('pickup p99 < 50 ms', `${fmt(ours.latency_ms.p99, 1)} ms`, '< 50 ms', ours.latency_ms.p99 < 50, ours.loadavg);
    const ov = ours.step_overhead?.overhead;
    if (ov) add('step overhead p50 (git workspace) < 30 ms', `${fmt(ov.p50, 1)} ms (p99 ${fmt(ov.p99, 1)})`, '< 30 ms', ov.p50 < 30, ours.loadavg);
  }
  // the same runner spawning every step at its start: what the warm launchers buy, in this run
  const cold = compare.pickup.find((p) => p.name.startsWith('ours, cold starts'));
  if (cold) add('pickup p50, RUNNER_WARM_LAUNCHERS=0 (info)', `${fmt(cold.latency_ms.p50, 1)} ms`, '—', undefined, cold.loadavg);
  const plain = compare.drain.find((d) => d.name.startsWith('ours (WORKSPACE_MODE=plain'));
  const git = compare.drain.find((d) => d.name.startsWith('ours (git'));
  const tsp = compare.drain.find((d) => d.name.startsWith('task-spooler'));
  const bullD = compare.drain.find((d) => d.name.startsWith('BullMQ (Redis defaults)'));
  if (plain) {
    add('drain (workspace off) ≥ task-spooler', `${fmt(plain.jobs_per_s)} vs ${tsp ? fmt(tsp.jobs_per_s) : '—'} jobs/s`, '≥ tsp', tsp ? plain.jobs_per_s >= tsp.jobs_per_s : undefined, plain.loadavg);
    add('drain (workspace off) ≥ BullMQ', `${fmt(plain.jobs_per_s)} vs ${bullD ? fmt(bullD.jobs_per_s) : '—'} jobs/s`, '≥ BullMQ', bullD ? plain.jobs_per_s >= bullD.jobs_per_s : undefined, plain.loadavg);
  }
  if (git) add('drain with git workspace (info)', `${fmt(git.jobs_per_s)} jobs/s`, '—', undefined, git.loadavg);
  const coldD = compare.drain.find((d) => d.name.startsWith('ours, cold starts'));
  if (coldD) add('drain (workspace off), RUNNER_WARM_LAUNCHERS=0 (info)', `${fmt(coldD.jobs_per_s)} jobs/s`, '—', undefined, coldD.loadavg);
}
if (ingest) {
  const d = ingest.results.find((r) => r.mode === 'durable');
  const f = ingest.results.find((r) => r.mode === 'floor');
  if (d && f) {
    add('durable ingest ≥ 70% of disk floor', `${d.rps} vs ${f.rps} jobs/s (×${fmt(ingest.ratio.vs_floor, 2)})`, '≥ ×0.70', ingest.ratio.vs_floor >= 0.7, ingest.loadavg);
    add('durable ingest p99 < 25 ms at 64 conn', `${fmt(d.p99_ms, 1)} ms`, '< 25 ms', d.p99_ms < 25, ingest.loadavg);
  }
}
if (scale) {
  for (const state of ['pending', 'done'] as const) {
    const rs = scale.rows.filter((r) => r.state === state).sort((a, b) => a.jobs - b.jobs);
    const lo = rs[0];
    const hi = rs[rs.length - 1];
    if (!lo || !hi || lo === hi) continue;
    if (state === 'pending' && lo.claim_p50_ms !== undefined && hi.claim_p50_ms !== undefined) {
      add(`claim p50 at ${hi.jobs} ≤ 2× at ${lo.jobs} (pending)`, `${fmt(hi.claim_p50_ms, 3)} vs ${fmt(lo.claim_p50_ms, 3)} ms`, '≤ ×2', hi.claim_p50_ms <= 2 * lo.claim_p50_ms, hi.loadavg);
    }
    if (lo.metrics_ms !== null && hi.metrics_ms !== null) add(`/metrics at ${hi.jobs} ≤ 2× at ${lo.jobs} (${state})`, `${fmt(hi.metrics_ms, 1)} vs ${fmt(lo.metrics_ms, 1)} ms`, '≤ ×2', hi.metrics_ms <= 2 * lo.metrics_ms, hi.loadavg);
    if (state === 'pending') add(`runner RSS with ${hi.jobs} pending < 200 MB`, `${fmt(hi.runner_rss_mb)} MB`, '< 200 MB', hi.runner_rss_mb < 200, hi.loadavg);
    const worst = Math.max(...rs.map((r) => r.status_id_ms));
    add(`status <id> < 300 ms at every size (${state})`, `max ${fmt(worst, 0)} ms (${rs.map((r) => fmt(r.status_id_ms, 0)).join(' / ')})`, '< 300 ms', worst < 300, hi.loadavg);
  }
}
if (flood) {
  const worst = Math.max(...flood.rows.map((r) => r.peak_rss_mb));
  add(`output flood ${flood.mb} MB: runner RSS < 200 MB`, `peak ${fmt(worst)} MB (${flood.rows.map((r) => `${r.shape}: ${fmt(r.seconds, 1)} s`).join(', ')})`, '< 200 MB', worst < 200, flood.rows[0]?.loadavg ?? loadavg());
}

console.log(`\n== summary: measured vs target (${quick ? 'quick' : 'full'} run, ${Math.round((Date.now() - started) / 1000)} s; load = /proc/loadavg 1/5/15 min when measured) ==`);
console.log(table(rows.map((r) => ({ target: r.target, measured: r.measured, goal: r.goal, verdict: verdict(r.ok), load: r.load }))));
const skipped = skippedPeers();
if (compare) Object.assign(skipped, compare.skipped);
if (Object.keys(skipped).length) console.log(`\nskipped: ${Object.entries(skipped).map(([k, v]) => `${k} (${v})`).join('; ')}`);
console.log(`\nwrote ${writeResults('summary', { quick, seconds: Math.round((Date.now() - started) / 1000), rows, skipped })}`);
