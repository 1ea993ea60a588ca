/**
 * Output flood: one `command` step whose process prints 200 MB (--quick: 50 MB) as fast as it can,
 * through a real runner process (the compiled CLI, default limits: MAX_SUBPROCESS_OUTPUT_CHARS
 * keeps 5,000,000 characters in the log, MAX_EVENT_OUTPUT_LINES forwards 500 lines as events, the
 * rest is counted). Two shapes: 100-byte lines (`yes | head -c`), and one line with no newline at
 * all (`head -c /dev/zero`). Reported: the runner's RSS before, its peak (VmHWM) during the job,
 * and the time from submit to the job finished.
 *
 * Run alone: node --import tsx bench/flood.ts [--quick] [--mb 200]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createQueue } from '../fsqueue/queue.ts';
import { loadConfig } from '../lib/config.ts';
import { submitJob } from '../runner/submit.ts';
import { argNum, benchHome, discardLater, ensureDist, fmt, loadavg, quickMode, sleep, startRunner, table, writeResults } from './lib.ts';

interface FloodRow {
  shape: string;
  mb: number;
  seconds: number;
  status: string;
  rss_before_mb: number;
  peak_rss_mb: number;
  output_bytes: number | null;
  log_bytes: number | null;
  loadavg: string;
}

async function flood(shape: 'lines' | 'one line', mb: number): Promise<FloodRow> {
  const home = await benchHome('flood');
  try {
    const config = loadConfig({ ORCHESTRATOR_HOME: home }, home);
    const queue = createQueue(config.paths.queueRoot);
    await queue.init();
    const runner = await startRunner(home, { RUNNER_CONCURRENCY: '1' });
    await sleep(1000);
    const before = runner.rssMb();
    const bytes = mb * 1024 * 1024;
    const line = 'x'.repeat(99);
    const script = shape === 'lines' ? `yes '${line}' | head -c ${bytes}` : `head -c ${bytes} /dev/zero | tr '\\0' x`;
    const t0 = performance.now();
    const { job } = await submitJob({ goal: 'flood', steps: [{ step_id: 's', agent: 'command', command: ['sh', '-c', script], max_retries: 0, timeout_sec: 600 }] }, { queue, artifactsRoot: config.paths.artifactsRoot, sourceType: 'manual' });
    let state: string | undefined;
    for (;;) {
      state = await queue.locate(job.job_id);
      if (state === 'done' || state === 'failed') break;
      await sleep(20);
    }
    const seconds = (performance.now() - t0) / 1000;
    const peak = runner.peakRssMb();
    await runner.stop();
    let outputBytes: number | null = null;
    let logBytes: number | null = null;
    try {
      const res = JSON.parse(readFileSync(path.join(config.paths.artifactsRoot, job.job_id, 'steps', 's', 'result.json'), 'utf8')) as { metrics?: { output_bytes?: number } };
      outputBytes = res.metrics?.output_bytes ?? null;
      logBytes = readFileSync(path.join(config.paths.artifactsRoot, job.job_id, 'steps', 's', 'logs.txt')).length;
    } catch {
      // reported as unknown
    }
    return { shape, mb, seconds, status: state, rss_before_mb: before, peak_rss_mb: peak, output_bytes: outputBytes, log_bytes: logBytes, loadavg: loadavg() };
  } finally {
    discardLater(home);
  }
}

export async function runFlood(o: { quick?: boolean } = {}): Promise<{ mb: number; rows: FloodRow[] }> {
  ensureDist();
  const mb = argNum('mb', (o.quick ?? quickMode()) ? 50 : 200);
  process.stdout.write(`\n== flood: one step printing ${mb} MB (load ${loadavg()}) ==\n`);
  const rows = [await flood('lines', mb), await flood('one line', mb)];
  console.log(table(rows.map((r) => ({ output: `${r.mb} MB, ${r.shape === 'lines' ? '100-byte lines' : 'one line, no newline'}`, status: r.status, 's to finish': fmt(r.seconds, 2), 'MB/s': fmt(r.mb / r.seconds, 0), 'runner RSS before MB': fmt(r.rss_before_mb), 'runner peak RSS MB': fmt(r.peak_rss_mb), 'output bytes counted': r.output_bytes ?? '—', 'log bytes kept': r.log_bytes ?? '—', load: r.loadavg }))));
  const res = { mb, rows };
  console.log(`\nwrote ${writeResults('flood', res)}`);
  return res;
}

if (import.meta.url === `file://${process.argv[1]}`) await runFlood();
