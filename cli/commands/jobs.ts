/** `submit`, `status`, `list`, `logs`: reading and adding jobs. */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { Leases } from '../../fsqueue/lease.ts';
import { isQueueState, QUEUE_STATES, type QueueState } from '../../fsqueue/states.ts';
import { OrchestratorError, errnoCode } from '../../lib/errors.ts';
import type { JobEvent } from '../../runner/events.ts';
import { jobStatus, listJobs } from '../../runner/control.ts';
import { fmtDuration, fmtUsd } from '../../runner/report.ts';
import { badInput, cliContext, json, out, type CliContext } from '../context.ts';

// submit and logs load what only they need (validation, artifacts, event following) when they run:
// `status` and `list` start faster without them
const lazy = {
  validate: () => import('../../contracts/validate.ts'),
  artifacts: () => import('../../runner/artifacts.ts'),
  submit: () => import('../../runner/submit.ts'),
  progress: () => import('../progress.ts'),
  sse: () => import('../sse-client.ts'),
};

export function describeEvent(ev: JobEvent): string | null {
  const d = ev.data as unknown as Record<string, unknown>;
  const t = ev.at.slice(11, 19);
  switch (ev.type) {
    case 'job:claimed': return `${t} claimed by ${String(d.runner_id)}`;
    case 'step:started': return `${t} ▶ ${String(d.step_id)} (${String(d.agent)}) attempt ${String(d.attempt)}`;
    case 'step:finished': return `${t} ${d.status === 'success' ? '✔' : '✘'} ${String(d.step_id)} ${String(d.status)} in ${fmtDuration(Number(d.duration_ms))}, ${fmtUsd(Number(d.cost_usd))}${d.error_code ? ` (${String(d.error_code)})` : ''}`;
    case 'step:retry': return `${t} ↻ ${String(d.step_id)} retry in ${fmtDuration(Number(d.delay_ms))}`;
    case 'job:parked': return `${t} ⏸ waiting (${String(d.reason)}${d.step_id ? ` at ${String(d.step_id)}` : ''}): ${String(d.message)}`;
    case 'job:finished': return `${t} ■ job ${String(d.status)} in ${fmtDuration(Number(d.duration_ms))}, ${fmtUsd(Number(d.cost_usd))}`;
    case 'job:recovered': return `${t} recovered → ${String(d.to)}: ${String(d.reason)}`;
    case 'job:handed_back': return `${t} handed back (${String(d.reason)})`;
    default: return null;
  }
}

async function submit(ctx: CliContext, file: string, wait: boolean): Promise<number> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    throw new OrchestratorError('E_FILE_NOT_FOUND', `${file}: cannot read (${errnoCode(err) ?? 'error'})`, { file });
  }
  const [{ parseJsonText }, { submitJob }, { JobArtifacts }, { followEvents }] = await Promise.all([lazy.validate(), lazy.submit(), lazy.artifacts(), lazy.progress()]);
  const raw = parseJsonText(text, { file });
  const res = await submitJob(raw, { queue: ctx.queue, artifactsRoot: ctx.config.paths.artifactsRoot, sourceType: 'manual', file });
  out(`${res.duplicate ? 'duplicate of' : 'queued'} ${res.job.job_id} (${res.state}); artifacts: ${path.join(ctx.config.paths.artifactsRoot, res.job.job_id)}`);
  if (!wait) return 0;
  const leases = new Leases(ctx.queue.root);
  const live = (await leases.listHeartbeats()).filter((h) => Date.now() - Date.parse(h.heartbeat_at) < ctx.config.leaseStaleMs);
  if (live.length === 0) out('note: no runner is running; start one with `orchestrator runner` (or `orchestrator serve`)');
  const art = new JobArtifacts(ctx.config.paths.artifactsRoot, res.job.job_id);
  const final = await followEvents(ctx.queue, art.file('events.jsonl'), res.job.job_id, (ev) => {
    const line = describeEvent(ev);
    if (line) out(line);
  }, { untilWaiting: true });
  out(`job ${res.job.job_id}: ${final ?? 'unknown'}`);
  return final === 'done' ? 0 : final === 'awaiting_approval' ? 0 : 1;
}

async function status(ctx: CliContext, id: string | undefined, asJson: boolean): Promise<number> {
  if (!id) {
    const counts = await ctx.queue.counts();
    const hbs = await new Leases(ctx.queue.root).listHeartbeats();
    const runners = hbs.map((h) => ({ ...h, fresh: Date.now() - Date.parse(h.heartbeat_at) < ctx.config.leaseStaleMs }));
    if (asJson) json({ queue: counts, runners });
    else {
      out(QUEUE_STATES.map((s) => `${s}: ${counts[s]}`).join('  '));
      for (const r of runners) out(`runner ${r.runner_id} pid ${r.pid} ${r.fresh ? 'alive' : 'stale'} running [${r.running.join(', ')}]`);
      if (runners.length === 0) out('no runner heartbeat');
    }
    return 0;
  }
  const st = await jobStatus(ctx, id);
  if (asJson) {
    json(st);
    return 0;
  }
  out(`job ${st.job_id}: ${st.queue_state}${st.state ? ` (${st.state.status})` : ''}`);
  out(`goal: ${st.job.goal.split('\n')[0]}`);
  if (st.state?.waiting) out(`waiting: ${st.state.waiting.reason}${st.state.waiting.step_id ? ` at ${st.state.waiting.step_id}` : ''}: ${st.state.waiting.message}${st.state.waiting.resume_after ? ` (resumes after ${st.state.waiting.resume_after})` : ''}`);
  for (const s of st.state?.steps ?? st.job.steps.map((x) => ({ step_id: x.step_id, agent: x.agent, status: 'pending', attempts: 0, duration_ms: 0, cost_usd: 0, error: null }))) {
    out(`  ${s.step_id.padEnd(20)} ${s.agent.padEnd(9)} ${String(s.status).padEnd(12)} attempts ${s.attempts}  ${fmtDuration(s.duration_ms)}  ${fmtUsd(s.cost_usd)}${s.error ? `  ${s.error.code}: ${s.error.message}` : ''}`);
  }
  if (st.state?.error) out(`error: ${st.state.error.code}: ${st.state.error.message}`);
  out(`artifacts: ${st.artifacts_dir}`);
  return 0;
}

async function list(ctx: CliContext, state: QueueState | undefined, limit: number, cursor: string | undefined, asJson: boolean): Promise<number> {
  const res = await listJobs(ctx, { ...(state ? { state } : {}), limit, ...(cursor ? { cursor } : {}) });
  if (asJson) json(res);
  else {
    for (const j of res.jobs) out(`${j.job_id}  ${j.queue_state.padEnd(17)}  ${new Date(j.mtime_ms).toISOString()}`);
    if (res.next_cursor) out(`more: --cursor ${res.next_cursor}`);
  }
  return 0;
}

async function logs(ctx: CliContext, id: string, step: string | undefined, follow: boolean): Promise<number> {
  const show = (ev: JobEvent): void => {
    if (ev.type === 'agent:output') {
      const d = ev.data as { step_id: string; line: string };
      if (!step || d.step_id === step) out(`[${d.step_id}] ${d.line}`);
    } else {
      const line = describeEvent(ev);
      if (line) out(line);
    }
  };
  const url = process.env.ORCHESTRATOR_URL;
  if (follow && url) {
    // the gateway's SSE feed: the job may run on another machine
    const token = process.env.ORCHESTRATOR_TOKEN || ctx.config.webhook.token || undefined;
    const { followEventsHttp } = await lazy.sse();
    const final = await followEventsHttp({ baseUrl: url, token, jobId: id, onEvent: show });
    out(`job ${id}: ${final ?? 'unknown'}`);
    return 0;
  }
  const st = await jobStatus(ctx, id);
  const [{ JobArtifacts }, { followEvents }] = await Promise.all([lazy.artifacts(), lazy.progress()]);
  const art = new JobArtifacts(ctx.config.paths.artifactsRoot, id);
  if (step && !st.job.steps.some((s) => s.step_id === step)) throw badInput(`job ${id} has no step ${JSON.stringify(step)} (steps: ${st.job.steps.map((s) => s.step_id).join(', ')})`, '--step');
  const file = step ? art.stepFile(step, 'logs.txt') : art.file('logs.txt');
  if (!follow) {
    process.stdout.write(await fsp.readFile(file, 'utf8').catch(() => ''));
    return 0;
  }
  await followEvents(ctx.queue, art.file('events.jsonl'), id, show);
  return 0;
}

export function registerJobCommands(y: Argv, run: (fn: () => Promise<number>) => Promise<void>): Argv {
  return y
    .command('submit <file>', 'validate a job file and queue it durably', (a) => a.positional('file', { type: 'string', demandOption: true }).option('wait', { type: 'boolean', default: false, describe: 'follow the job until it finishes (exit 1 if it fails)' }), (argv) => run(async () => submit(await cliContext(), argv.file, argv.wait)))
    .command('status [job_id]', 'queue overview, or one job\'s status', (a) => a.positional('job_id', { type: 'string' }).option('json', { type: 'boolean', default: false }), (argv) => run(async () => status(await cliContext(), argv.job_id, argv.json)))
    .command('list', 'list jobs, newest first', (a) => a.option('state', { type: 'string', describe: QUEUE_STATES.join('|') }).option('limit', { type: 'number', default: 50 }).option('cursor', { type: 'string' }).option('json', { type: 'boolean', default: false }), (argv) => run(async () => {
      if (argv.state !== undefined && !isQueueState(argv.state)) throw badInput(`--state must be one of ${QUEUE_STATES.join(', ')} (got ${JSON.stringify(argv.state)})`, '--state');
      return list(await cliContext(), argv.state as QueueState | undefined, argv.limit, argv.cursor, argv.json);
    }))
    .command('logs <job_id>', 'print (or --follow) a job\'s logs', (a) => a.positional('job_id', { type: 'string', demandOption: true }).option('step', { type: 'string' }).option('follow', { alias: 'f', type: 'boolean', default: false }), (argv) => run(async () => logs(await cliContext(), argv.job_id, argv.step, argv.follow)));
}
