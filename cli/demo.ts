/**
 * `npm run demo`: a runner in-process, the example job submitted, its progress shown, then the
 * artifact tree and the job's report. No keys, no network: the agents are simulated.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { parseJsonText } from '../contracts/validate.ts';
import { loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/logger.ts';
import { JobArtifacts } from '../runner/artifacts.ts';
import { createRunner } from '../runner/runner.ts';
import { submitJob } from '../runner/submit.ts';
import { out } from './context.ts';
import { describeEvent } from './commands/jobs.ts';

async function tree(dir: string, prefix = ''): Promise<string[]> {
  const entries = (await fsp.readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  const lines: string[] = [];
  for (const [i, e] of entries.entries()) {
    const last = i === entries.length - 1;
    const full = path.join(dir, e.name);
    const size = e.isFile() ? ` (${(await fsp.stat(full)).size} B)` : '';
    lines.push(`${prefix}${last ? '└── ' : '├── '}${e.name}${e.isDirectory() ? '/' : size}`);
    if (e.isDirectory()) lines.push(...(await tree(full, prefix + (last ? '    ' : '│   '))));
  }
  return lines;
}

export async function runDemo(file: string): Promise<number> {
  const config = loadConfig();
  const runner = createRunner({ config, logger: createLogger({ level: 'warn' }) });
  runner.events.onAny((ev) => {
    const line = describeEvent(ev);
    if (line) out(line);
  });
  await runner.start();
  const raw = parseJsonText(await fsp.readFile(file, 'utf8'), { file });
  const { job } = await submitJob(raw, { queue: runner.queue, artifactsRoot: config.paths.artifactsRoot, sourceType: 'manual', file });
  out(`submitted ${file} as job ${job.job_id} (${job.steps.length} steps: ${job.steps.map((s) => `${s.step_id}/${s.agent}`).join(' → ')})`);
  const finished = new Promise<string>((resolve) => {
    runner.events.on('job:finished', (d) => { if (d.job_id === job.job_id) resolve(d.status); });
    runner.events.on('job:parked', (d) => { if (d.job_id === job.job_id) resolve(`waiting (${d.reason})`); });
  });
  const status = await finished;
  await runner.stop();
  const art = new JobArtifacts(config.paths.artifactsRoot, job.job_id);
  out('');
  out(`artifacts/${job.job_id}/`);
  for (const l of await tree(art.dir)) out(l);
  out('');
  out(await fsp.readFile(art.file('report.md'), 'utf8'));
  out(`workspace: ${path.join(config.paths.workspacesRoot, job.job_id, 'work')}`);
  return status === 'success' ? 0 : 1;
}
