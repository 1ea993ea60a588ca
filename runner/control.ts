/**
 * Operations on a job from outside the runner (CLI and HTTP API): status, list, approve, reject,
 * cancel, retry, unlock. Each one changes state through runner/apply.ts and moves the job file through
 * fsqueue (a rename: if a runner moved the job meanwhile, the operation sees it and says so).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { JobResult, NormalizedJob } from '../contracts/index.ts';
import { newestFirst, type FsQueue, type TimedEntry } from '../fsqueue/queue.ts';
import { Leases, type Lease } from '../fsqueue/lease.ts';
import { QUEUE_STATES, cancelRequestPath, isSafeJobId, type QueueState } from '../fsqueue/states.ts';
import type { Config } from '../lib/config.ts';
import { OrchestratorError } from '../lib/errors.ts';
import { failpoint } from '../lib/failpoint.ts';
import { pathExists, readJsonIfExists, writeFileAtomic } from '../lib/fsutil.ts';
import { applyApproval, applyRejection, applyRetry, finish, type HumanAnswer } from './apply.ts';
import { JobArtifacts } from './artifacts.ts';
import { completeClosing, newIntent, removeIntent, writeIntent } from './closing-intent.ts';
import { writeFinalArtifacts } from './finalize.ts';
import { initialState, withHistory, type JobState } from './state.ts';

export interface ControlContext {
  config: Config;
  queue: FsQueue;
  now?: () => Date;
}

function assertId(id: string): void {
  if (!isSafeJobId(id)) throw new OrchestratorError('E_BAD_INPUT', `invalid job id ${JSON.stringify(id)}: expected 8-64 of [A-Za-z0-9._-]`, { issues: [{ path: 'job_id', message: 'not a valid job id' }] });
}

/** `validate: false` for read-only views (see FsQueue.readFile); operations that act on a job validate it. */
async function load(ctx: ControlContext, id: string, opts: { validate?: boolean } = {}): Promise<{ state: QueueState; job: NormalizedJob; art: JobArtifacts; js: JobState | undefined }> {
  assertId(id);
  const got = await ctx.queue.get(id, opts);
  if (!got) throw new OrchestratorError('E_JOB_NOT_FOUND', `job ${id} not found in ${ctx.queue.root}`, { job_id: id });
  const art = new JobArtifacts(ctx.config.paths.artifactsRoot, id);
  return { ...got, art, js: await art.readState().catch(() => undefined) };
}

export interface JobStatus {
  job_id: string;
  queue_state: QueueState;
  job: NormalizedJob;
  state: JobState | null;
  result: JobResult | null;
  artifacts_dir: string;
}

export async function jobStatus(ctx: ControlContext, id: string): Promise<JobStatus> {
  const { state, job, art, js } = await load(ctx, id, { validate: false });
  const result = (await readJsonIfExists<JobResult>(art.file('result.json')).catch(() => undefined)) ?? null;
  return { job_id: id, queue_state: state, job, state: js ?? null, result, artifacts_dir: art.dir };
}

export type ListEntry = TimedEntry;

/** Pure: the first index of a newest-first list that comes after the cursor entry (binary search). */
function firstAfter(list: readonly ListEntry[], mtimeMs: number, jobId: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = list[mid]!;
    if (e.mtime_ms < mtimeMs || (e.mtime_ms === mtimeMs && e.job_id > jobId)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Newest first, cursor-paged (`cursor` is the last entry of the previous page: "<mtime>:<id>").
 * Each state's list comes sorted (FsQueue.listTimed); a page is merged from them, from the
 * cursor's place in each (a binary search): a page costs its own size, not the queue's.
 */
export async function listJobs(ctx: ControlContext, opts: { state?: QueueState; limit?: number; cursor?: string } = {}): Promise<{ jobs: ListEntry[]; next_cursor: string | null }> {
  const states = opts.state ? [opts.state] : [...QUEUE_STATES];
  const lists = await Promise.all(states.map((s) => ctx.queue.listTimed(s)));
  let pos = lists.map(() => 0);
  if (opts.cursor) {
    const [m, cid] = [Number(opts.cursor.split(':')[0]), opts.cursor.split(':').slice(1).join(':')];
    pos = lists.map((l) => firstAfter(l, m, cid));
  }
  const limit = opts.limit ?? 50;
  const jobs: ListEntry[] = [];
  while (jobs.length < limit) {
    let best = -1;
    for (let k = 0; k < lists.length; k++) {
      const e = lists[k]![pos[k]!];
      if (e && (best < 0 || newestFirst(e, lists[best]![pos[best]!]!) < 0)) best = k;
    }
    if (best < 0) break;
    jobs.push(lists[best]![pos[best]!++]!);
  }
  const more = lists.some((l, k) => pos[k]! < l.length);
  const last = jobs[jobs.length - 1];
  return { jobs, next_cursor: more && last ? `${last.mtime_ms}:${last.job_id}` : null };
}

export async function approveJob(ctx: ControlContext, id: string, answer: HumanAnswer & { step?: string }): Promise<{ queue_state: QueueState; state: JobState }> {
  const now = (ctx.now ?? (() => new Date()))().toISOString();
  const { state, job, art, js } = await load(ctx, id);
  if (state !== 'awaiting_approval') throw new OrchestratorError('E_BAD_STATE', `job ${id} is ${state}, not awaiting_approval: nothing to approve`, { job_id: id, state });
  const current = js ?? initialState(job, now);
  if (answer.step && current.waiting?.step_id && answer.step !== current.waiting.step_id) {
    throw new OrchestratorError('E_BAD_STATE', `job ${id} waits at step ${current.waiting.step_id}, not ${answer.step}`, { job_id: id, waiting_step: current.waiting.step_id });
  }
  if (current.waiting?.reason === 'budget_exceeded' && !answer.overBudget) {
    throw new OrchestratorError('E_BAD_STATE', `job ${id} waits because the budget is exhausted; approve with --over-budget to run it anyway`, { job_id: id });
  }
  const next = applyApproval(job, current, answer, now);
  const to: QueueState = next.finished_at ? (next.status === 'success' ? 'done' : 'failed') : 'pending';
  const logLine = `${now} approved by ${answer.by}${answer.note ? `: ${answer.note}` : ''} → ${to}`;
  const lost = new OrchestratorError('E_BAD_STATE', `job ${id} moved while it was being approved; check its status`, { job_id: id });
  if (to !== 'pending') {
    if ((await closeByCommand(ctx, job, 'awaiting_approval', { ...next, queue_state: to }, logLine)) === 'lost') throw lost;
    return { queue_state: to, state: next };
  }
  await art.writeState(next).catch(async () => art.init(job, next));
  if ((await ctx.queue.move(id, 'awaiting_approval', to)) === 'lost') throw lost;
  await art.appendLog(logLine);
  return { queue_state: to, state: next };
}

export async function rejectJob(ctx: ControlContext, id: string, answer: HumanAnswer): Promise<{ queue_state: QueueState; state: JobState }> {
  const now = (ctx.now ?? (() => new Date()))().toISOString();
  const { state, job, js } = await load(ctx, id);
  if (state !== 'awaiting_approval') throw new OrchestratorError('E_BAD_STATE', `job ${id} is ${state}, not awaiting_approval: nothing to reject`, { job_id: id, state });
  const next = { ...applyRejection(js ?? initialState(job, now), answer, now), queue_state: 'failed' as const };
  if ((await closeByCommand(ctx, job, 'awaiting_approval', next, null)) === 'lost') throw new OrchestratorError('E_BAD_STATE', `job ${id} moved while it was being rejected; check its status`, { job_id: id });
  return { queue_state: 'failed', state: next };
}

/**
 * Close a job by command (approve to an end, reject, cancel of a waiting job). The move decides
 * that the command won (a runner may claim the job meanwhile), so the closed artifacts and the
 * callback (delivered from the outbox by a dispatcher: gateway/callbacks.ts) come after it; the
 * intent written before it lets recovery complete them if this process dies in between
 * (runner/closing-intent.ts).
 */
async function closeByCommand(ctx: ControlContext, job: NormalizedJob, from: QueueState, state: JobState & { queue_state: 'done' | 'failed' }, logLine: string | null): Promise<'closed' | 'lost'> {
  const now = (ctx.now ?? (() => new Date()))();
  const intent = newIntent(job, from, state, logLine, now);
  await writeIntent(ctx.config, intent);
  failpoint('closing:before-move');
  if ((await ctx.queue.move(job.job_id, from, state.queue_state)) === 'lost') {
    await removeIntent(ctx.config, job.job_id);
    return 'lost';
  }
  failpoint('closing:after-move');
  await completeClosing(ctx.config, job, intent, now);
  return 'closed';
}

/** Cancel: pending/awaiting jobs are closed at once; a running job is asked to stop (its runner kills the agent). */
export async function cancelJob(ctx: ControlContext, id: string, by: string): Promise<{ queue_state: QueueState; requested: boolean }> {
  const now = (ctx.now ?? (() => new Date()))().toISOString();
  for (let tries = 0; tries < 5; tries++) {
    const { state, job, js } = await load(ctx, id);
    if (state === 'done' || state === 'failed') throw new OrchestratorError('E_BAD_STATE', `job ${id} already finished (${state})`, { job_id: id, state });
    if (state === 'running') {
      await fsp.mkdir(path.dirname(cancelRequestPath(ctx.queue.root, id)), { recursive: true });
      await writeFileAtomic(cancelRequestPath(ctx.queue.root, id), `${now} ${by}\n`, { durable: false });
      return { queue_state: 'running', requested: true };
    }
    const base = withHistory(js ?? initialState(job, now), now, 'cancelled', undefined, `by ${by}`);
    const next = { ...finish(base, 'cancelled', now, { code: 'E_CANCELLED', message: `cancelled by ${by} while ${state}` }), queue_state: 'failed' as const };
    if ((await closeByCommand(ctx, job, state, next, null)) === 'lost') continue; // claimed meanwhile: ask again
    return { queue_state: 'failed', requested: false };
  }
  throw new OrchestratorError('E_BAD_STATE', `job ${id} kept moving; try again`, { job_id: id });
}

/**
 * Retry a failed job: back to pending, to run again from the step it stopped at (runner/apply.ts
 * applyRetry); steps that succeeded keep their work in the job's workspace and are not run again.
 * Refused for a rejection (a human's final word: submit a new job) and for a job whose workspace
 * retention has removed. The state is written before the move; a retry interrupted in between
 * leaves the job in failed/ with a pending state, and running it again finishes it.
 */
export async function retryJob(ctx: ControlContext, id: string, answer: HumanAnswer): Promise<{ queue_state: QueueState; state: JobState }> {
  const now = (ctx.now ?? (() => new Date()))().toISOString();
  const { state, job, art, js } = await load(ctx, id);
  if (state !== 'failed') throw new OrchestratorError('E_BAD_STATE', `job ${id} is ${state}: only a failed job can be retried`, { job_id: id, state });
  if (!js) throw new OrchestratorError('E_BAD_STATE', `job ${id} has no state.json to resume from; submit it again`, { job_id: id });
  if (js.error?.code === 'E_REJECTED') throw new OrchestratorError('E_BAD_STATE', `job ${id} was rejected (${js.error.message}): a rejection is final; submit a new job`, { job_id: id });
  if (js.workspace && !(await pathExists(js.workspace.path))) throw new OrchestratorError('E_BAD_STATE', `job ${id}'s workspace ${js.workspace.path} is gone (retention removed it): its finished steps cannot be kept; submit the job again`, { job_id: id });
  const next = applyRetry(job, js, answer, now);
  if (!next) throw new OrchestratorError('E_BAD_STATE', `job ${id} has no step left to run`, { job_id: id });
  await writeFinalArtifacts(art, job, next, null); // the tree says pending again, not the failure it no longer is
  if ((await ctx.queue.move(id, 'failed', 'pending')) === 'lost') throw new OrchestratorError('E_BAD_STATE', `job ${id} moved while it was being retried; check its status`, { job_id: id });
  await art.appendLog(`${now} retried by ${answer.by}${answer.note ? `: ${answer.note}` : ''} from step ${next.cursor} → pending`);
  return { queue_state: 'pending', state: next };
}

/** Clear a stale lock/lease by hand. Refuses while the owner is alive unless forced. */
export async function unlockJob(ctx: ControlContext, id: string, opts: { force?: boolean }): Promise<{ removed_lock: boolean; lease: Lease | undefined; owner_alive: boolean }> {
  assertId(id);
  const leases = new Leases(ctx.queue.root);
  await leases.init();
  const { dead, lease } = await leases.ownerDead(id, ctx.queue.pathOf('running', id), { host: ctx.config.host, staleMs: ctx.config.leaseStaleMs });
  const ownerAlive = !dead && lease !== undefined;
  if (ownerAlive && !opts.force) {
    throw new OrchestratorError('E_LOCK_HELD', `job ${id} is held by a live runner ${lease?.runner_id} (pid ${lease?.pid} on ${lease?.host}); use --force to clear it anyway`, { job_id: id, lease });
  }
  const removed = await leases.forceUnlock(id);
  if (opts.force || dead) await leases.remove(id);
  return { removed_lock: removed, lease, owner_alive: ownerAlive };
}
