/**
 * The completion-callback outbox, `var/callbacks/<delivery_id>.json`: what a delivery needs to be
 * made (or resumed) by any process. The runner and recovery record a job's callback here durably
 * BEFORE they move the job to its final (or parked) state, so a process that dies in between
 * leaves the delivery behind instead of losing it; the dispatcher (gateway/callbacks.ts) delivers
 * it, and the next dispatcher to start resumes it once its owner is gone.
 *
 * A delivery's id is derived from the job, the event and the moment it happened (the state's
 * `finished_at`, or `waiting.since` for a park): whoever records the same closing of a job (the
 * runner, recovery after it, the dispatcher reacting to the event) names the same entry, so it is
 * delivered once per closing, with one `X-Orchestrator-Delivery` across processes and retries.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NormalizedJob } from '../contracts/index.ts';
import type { QueueState } from '../fsqueue/states.ts';
import type { Config } from '../lib/config.ts';
import { pathExists, writeJsonAtomic } from '../lib/fsutil.ts';
import { decidedClosing, type JobState } from './state.ts';

export type CallbackEventName = 'job.finished' | 'job.awaiting_approval';

export interface CallbackPayload {
  event: CallbackEventName;
  delivery_id: string;
  job_id: string;
  status: string;
  queue_state: QueueState;
  created_at: string;
  duration_ms: number | null;
  cost_usd: number | null;
  waiting: { reason: string; step_id: string | null; resume_after: string | null; message: string } | null;
  status_url: string;
  artifacts_dir: string;
}

/** An outbox entry: everything needed to resume a delivery in another process. */
export interface OutboxEntry {
  url: string;
  payload: CallbackPayload;
  /** Attempts already made. */
  attempts: number;
  owner: { pid: number; host: string };
}

export function outboxDir(config: Config): string {
  return path.join(config.paths.varRoot, 'callbacks');
}

export function outboxFile(config: Config, deliveryId: string): string {
  return path.join(outboxDir(config), `${deliveryId}.json`);
}

/** The process that makes (or takes over) a delivery. */
export function thisOwner(): OutboxEntry['owner'] {
  return { pid: process.pid, host: os.hostname() };
}

/** Where a payload points: the job's status URL and its artifact directory. */
export function payloadLinks(config: Config, jobId: string): Pick<CallbackPayload, 'status_url' | 'artifacts_dir'> {
  return { status_url: `${config.http.publicUrl ?? ''}/jobs/${jobId}`, artifacts_dir: path.join(config.paths.artifactsRoot, jobId) };
}

/** Write an outbox entry (atomically; fsynced unless `durable: false`), making the outbox if needed. */
export async function writeOutboxEntry(config: Config, entry: OutboxEntry, opts: { durable?: boolean } = {}): Promise<void> {
  await fsp.mkdir(outboxDir(config), { recursive: true });
  await writeJsonAtomic(outboxFile(config, entry.payload.delivery_id), entry, opts);
}

/** Pure: a UUID-shaped id, the same for the same job, event and moment. */
export function deliveryIdOf(jobId: string, event: CallbackEventName, at: string): string {
  const h = createHash('sha256').update(`${jobId}\0${event}\0${at}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * Pure: the callback a job's closing state calls for, or null (no callback_url, or the state is
 * neither finished nor parked). `createdAt` is when the entry is made (the payload's created_at).
 */
export function callbackFor(job: Pick<NormalizedJob, 'job_id' | 'callback_url'>, state: JobState, opts: { config: Config; createdAt: string }): OutboxEntry | null {
  const url = job.callback_url;
  if (!url) return null;
  const closing = decidedClosing(state);
  if (!closing) return null;
  const parked = closing === 'awaiting_approval';
  const finished = !parked;
  const event: CallbackEventName = parked ? 'job.awaiting_approval' : 'job.finished';
  const w = state.waiting;
  const at = parked && w ? w.since : (state.finished_at ?? state.updated_at);
  const started = state.started_at ? Date.parse(state.started_at) : NaN;
  const payload: CallbackPayload = {
    event,
    delivery_id: deliveryIdOf(job.job_id, event, at),
    job_id: job.job_id,
    status: parked ? 'needs_human' : state.status,
    queue_state: state.queue_state,
    created_at: opts.createdAt,
    duration_ms: finished && Number.isFinite(started) ? Math.max(0, Date.parse(at) - started) : null,
    cost_usd: finished ? state.steps.reduce((a, s) => a + s.cost_usd, 0) : null,
    waiting: parked && w ? { reason: w.reason, step_id: w.step_id, resume_after: w.resume_after, message: w.message } : null,
    ...payloadLinks(opts.config, job.job_id),
  };
  return { url, payload, attempts: 0, owner: thisOwner() };
}

/**
 * Record the callback of a job about to be moved to `state.queue_state` (durably: file and
 * directory fsynced), unless it is recorded already or there is nothing to send: no callback_url,
 * or no CALLBACK_SECRET (the dispatcher logs "not sent" in the job's log instead).
 * Returns the delivery id recorded (or found), else null.
 */
export async function recordCallback(config: Config, job: Pick<NormalizedJob, 'job_id' | 'callback_url'>, state: JobState, now: Date): Promise<string | null> {
  if (!config.callbacks.secret) return null;
  const entry = callbackFor(job, state, { config, createdAt: now.toISOString() });
  if (!entry) return null;
  if (!(await pathExists(outboxFile(config, entry.payload.delivery_id)))) await writeOutboxEntry(config, entry);
  return entry.payload.delivery_id;
}
