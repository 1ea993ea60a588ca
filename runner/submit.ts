/**
 * Submitting a job: the one path shared by `orchestrator submit`, the webhook and the scheduler.
 * Validate (strict, every offending path named) → fill defaults → idempotency key → durable
 * enqueue into pending/ (or awaiting_approval/ when the policy asks for approval first).
 */
import type { Job, NormalizedJob } from '../contracts/index.ts';
import { normalizeJob } from '../contracts/normalize.ts';
import { validateJob } from '../contracts/validate.ts';
import type { FsQueue } from '../fsqueue/queue.ts';
import type { QueueState } from '../fsqueue/states.ts';
import { OrchestratorError, type Issue } from '../lib/errors.ts';
import { newJobId } from '../lib/ids.ts';
import { park } from './apply.ts';
import { JobArtifacts } from './artifacts.ts';
import { initialState } from './state.ts';

export interface SubmitOptions {
  queue: FsQueue;
  artifactsRoot: string;
  sourceType: 'webhook' | 'manual' | 'cron';
  now?: () => Date;
  /** Overrides the payload's idempotency_key (e.g. X-GitHub-Delivery). */
  idempotencyKey?: string;
  /** Applied after validation (e.g. the workdir of a project alias, never the payload's). */
  override?: Partial<Pick<Job, 'workdir' | 'project_id' | 'source'>>;
  file?: string;
  /** Problems the caller found beside the schema's (the webhook's project alias): one E_SCHEMA names them all. */
  issues?: readonly Issue[];
}

export interface Submitted {
  job: NormalizedJob;
  state: 'pending' | 'awaiting_approval';
  /** True when the idempotency key was seen before: `job` is then the first job. */
  duplicate: boolean;
}

export async function submitJob(raw: unknown, opts: SubmitOptions): Promise<Submitted> {
  const now = opts.now ?? (() => new Date());
  const valid = validateJob(raw, opts.file ? { file: opts.file } : {}, opts.issues);
  const job = normalizeJob({ ...valid, ...opts.override }, { now: now(), newId: newJobId, sourceType: opts.sourceType });
  const key = opts.idempotencyKey ?? job.idempotency_key;
  if (key) {
    const first = await claimKey(opts.queue, key, job.job_id);
    if (first) return { job: first.job, state: first.state === 'awaiting_approval' ? 'awaiting_approval' : 'pending', duplicate: true };
  }
  const state = job.policy.requires_approval ? 'awaiting_approval' : 'pending';
  try {
    await opts.queue.enqueue(job, state);
  } catch (err) {
    if (key) await opts.queue.releaseIdempotencyKey(key);
    throw err;
  }
  if (state === 'awaiting_approval') {
    // Written after the enqueue (never over another job's artifacts); approve copes with its absence,
    // so a failure here must not report the (durable) job as not submitted: the caller would retry.
    const st = park(initialState(job, now().toISOString()), 'approval', null, now().toISOString(), null, 'policy.requires_approval: the job waits for approval before it starts');
    await new JobArtifacts(opts.artifactsRoot, job.job_id).init(job, st).catch(() => undefined);
  }
  return { job, state, duplicate: false };
}

/**
 * Claim an idempotency key. Returns the first job when the key is already owned. A key whose owner
 * is still being enqueued by a concurrent request (claimed, not yet published) is waited for, so
 * concurrent duplicates never each create a job; if that submission fails it releases the key and
 * this one takes it over.
 */
async function claimKey(queue: FsQueue, key: string, jobId: string): Promise<{ state: QueueState; job: NormalizedJob } | undefined> {
  for (let i = 0; i < 60; i++) {
    const owner = await queue.claimIdempotencyKey(key, jobId);
    if (owner.created) return undefined;
    const first = await queue.get(owner.jobId);
    if (first) return first;
    await new Promise((r) => setTimeout(r, Math.min(10 * 2 ** i, 100)));
  }
  throw new OrchestratorError('E_QUEUE_UNAVAILABLE', 'a submission with the same idempotency key is still in progress; retry', { idempotency_key: key });
}
