/**
 * Recovery of jobs whose owner died (runner SIGKILLed, machine rebooted). Runs on runner start,
 * periodically, and as `orchestrator recover`. For each job in running/ whose lease owner is dead:
 * kill its orphaned agent processes first, then fold the interrupted attempt into state.json (the
 * attempt counts) and move the job back to pending, or to failed when its attempts are exhausted.
 * The move is a rename: if two recoverers race, one of them finds the file gone and moves on.
 * Also completes the closings of commands (cancel, reject, approve) that died after their move.
 */
import { randomBytes } from 'node:crypto';
import type { FsQueue } from '../fsqueue/queue.ts';
import type { Leases } from '../fsqueue/lease.ts';
import type { QueueState } from '../fsqueue/states.ts';
import type { Config } from '../lib/config.ts';
import { errorMessage } from '../lib/errors.ts';
import { killRun, liveRunsOfJob, runAlive } from '../lib/proc.ts';
import type { Logger } from '../lib/logger.ts';
import { applyDecision, interruptedAttempt } from './apply.ts';
import { JobArtifacts } from './artifacts.ts';
import { decideAfterAttempt } from './decide.ts';
import type { RunnerEvents } from './events.ts';
import { recordCallback } from './callback-outbox.ts';
import { settleIntents } from './closing-intent.ts';
import { writeFinalArtifacts } from './finalize.ts';
import { scanStepArtifacts } from './secrets-check.ts';
import { sensitiveValues } from './secrets.ts';
import { decidedClosing, initialState, withHistory } from './state.ts';

export interface RecoveryContext {
  config: Config;
  queue: FsQueue;
  leases: Leases;
  events: RunnerEvents;
  log: Logger;
  /** Who is recovering (a runner id, or `recover-<pid>`). */
  actor: string;
  now: () => Date;
  /** Jobs this process is running right now: never touched. */
  active?: ReadonlySet<string>;
}

export interface RecoveredJob {
  job_id: string;
  to: QueueState;
  killed_runs: number;
  reason: string;
}

export async function recoverDeadJobs(ctx: RecoveryContext): Promise<RecoveredJob[]> {
  const out: RecoveredJob[] = [];
  // closings of commands that died half way (runner/closing-intent.ts)
  for (const s of await settleIntents(ctx).catch((err: unknown) => (ctx.log.error({ err: errorMessage(err) }, 'cannot read the closing intents; will retry on the next pass'), []))) {
    if (s.outcome === 'completed') out.push({ job_id: s.job_id, to: s.to, killed_runs: 0, reason: s.reason });
  }
  for (const id of await ctx.queue.list('running')) {
    if (ctx.active?.has(id)) continue;
    try {
      const r = await recoverOne(ctx, id);
      if (r) out.push(r);
    } catch (err) {
      ctx.log.error({ job_id: id, err: errorMessage(err) }, 'recovery of a job failed; will retry on the next pass');
    }
  }
  return out;
}

async function recoverOne(ctx: RecoveryContext, id: string): Promise<RecoveredJob | undefined> {
  const { queue, leases, config } = ctx;
  const { dead, lease } = await leases.ownerDead(id, queue.pathOf('running', id), { host: config.host, staleMs: config.leaseStaleMs });
  if (!dead) return undefined;
  const iso = (): string => ctx.now().toISOString();

  // 1. orphans first: nothing of the dead owner may keep writing into the workspace
  let killed = 0;
  for (const run of lease?.runs ?? []) {
    const pgid = lease?.host === config.host ? run.pgid : undefined;
    if (!runAlive(pgid, run.run_id)) continue;
    await killRun(pgid, run.run_id, config.killGraceMs);
    killed++;
  }
  // 1b. and any run it had no time to record (killed between the spawn and the lease update):
  // every agent carries its job's id
  const recorded = new Set((lease?.runs ?? []).map((r) => r.run_id));
  for (const runId of liveRunsOfJob(id)) {
    if (recorded.has(runId)) continue;
    await killRun(undefined, runId, config.killGraceMs);
    killed++;
  }
  // 2. take the lease over, so a second recoverer sees a live owner and leaves it alone
  await leases.forceUnlock(id);
  await leases.write({ job_id: id, claim_id: `recover-${randomBytes(6).toString('hex')}`, runner_id: ctx.actor, pid: process.pid, host: config.host, claimed_at: iso(), runs: [] });

  const read = await queue.readFile(queue.pathOf('running', id));
  if (!read.ok) {
    await leases.remove(id);
    if (read.reason === 'ENOENT') return undefined;
    await queue.quarantine('running', `${id}.json`, read.reason);
    return { job_id: id, to: 'running', killed_runs: killed, reason: `quarantined: ${read.reason}` };
  }
  const job = read.job;
  const art = new JobArtifacts(config.paths.artifactsRoot, id);
  let state = (await art.readState().catch(() => undefined)) ?? initialState(job, iso());
  let to: QueueState = 'pending';
  let reason = `owner ${lease ? `${lease.runner_id} (pid ${lease.pid})` : '(no lease)'} is dead`;

  const cur = state.cursor ? state.steps.find((s) => s.step_id === state.cursor) : undefined;
  const decided = decidedClosing(state);
  if (decided) {
    // it died while closing the job: the closing was decided and persisted (runner/job-runner.ts
    // close()), maybe its callback recorded too. Complete it as decided; running the job again
    // would close it a second time (another finished_at: another callback, another outcome).
    to = decided;
    reason += `; completing its closing (${decided})`;
  } else if (cur && cur.status === 'running') {
    state = interruptedAttempt(state, cur.step_id, iso());
    // the dead runner never ran the post-step secrets scan: redact what its agent left behind
    await scanStepArtifacts(art.dir, cur.step_id, { redact: true, known: sensitiveValues(config.secrets.sensitiveEnvVars, process.env) }).catch(() => undefined);
    const decision = decideAfterAttempt(job, state, cur.step_id, { status: 'failed', errorCode: 'crash' }, { maxRetryBackoffSec: config.maxRetryBackoffSec });
    const applied = applyDecision(job, state, cur.step_id, decision, iso(), `the runner died during step ${cur.step_id}`);
    state = applied.state;
    if (applied.action === 'finish') to = state.status === 'success' ? 'done' : 'failed';
    else if (applied.action === 'park') to = 'awaiting_approval';
    reason += `; attempt ${cur.attempts} of ${cur.step_id} counted`;
  }
  if (to === 'pending') state = { ...state, queue_state: 'pending', status: 'pending', owner: null };
  state = withHistory(state, iso(), 'recovered', undefined, reason);

  // back to pending: the tree is completed too (its runner may have died before the placeholders,
  // which start once an agent has run a moment: runner/job-runner.ts PLACEHOLDER_DELAY_MS)
  if (to === 'pending') await art.init(job, state);
  else {
    await writeFinalArtifacts(art, job, state, null);
    await recordCallback(config, job, state, ctx.now()); // before the move, as the runner does
  }
  await art.appendLog(`${iso()} recovered by ${ctx.actor}: ${reason} → ${to}`).catch(() => undefined);
  const moved = await queue.move(id, 'running', to);
  await leases.remove(id);
  if (moved === 'lost') return undefined;
  const ev = ctx.events.emit('job:recovered', { job_id: id, to, reason });
  await art.appendEvent(ev).catch(() => undefined);
  ctx.log.warn({ job_id: id, to, killed_runs: killed }, `recovered job: ${reason}`);
  return { job_id: id, to, killed_runs: killed, reason };
}
