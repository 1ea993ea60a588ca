import path from 'node:path';

/**
 * Queue states, defined once. A job is a `<job_id>.json` file in exactly one of these directories
 * at any instant; the directory IS the job's queue state (no second source of truth).
 */
export const QUEUE_STATES = ['pending', 'awaiting_approval', 'running', 'done', 'failed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

export const TERMINAL_STATES: readonly QueueState[] = ['done', 'failed'];

/** Allowed moves. Everything else is a bug and is refused by fsqueue/queue.ts. */
export const TRANSITIONS: Readonly<Record<QueueState, readonly QueueState[]>> = {
  pending: ['running', 'failed', 'awaiting_approval'],
  awaiting_approval: ['pending', 'failed'],
  running: ['done', 'failed', 'awaiting_approval', 'pending'],
  done: [],
  failed: ['pending'],
};

export function canMove(from: QueueState, to: QueueState): boolean {
  return TRANSITIONS[from].includes(to);
}

export function isQueueState(s: string): s is QueueState {
  return (QUEUE_STATES as readonly string[]).includes(s);
}

/** Job ids are also file names: this is the traversal guard for every id that comes from outside. */
export const JOB_ID_RE = /^(?!\.+$)[a-zA-Z0-9._-]{8,64}$/;
export function isSafeJobId(id: string): boolean {
  return JOB_ID_RE.test(id);
}

/** Where a job's file is while it is in `state`: `<queue root>/<state>/<job_id>.json`. */
export function jobFilePath(queueRoot: string, state: QueueState, jobId: string): string {
  return path.join(queueRoot, state, `${jobId}.json`);
}

/** A cancel request for a running job: `<queue root>/cancel/<job_id>` (its runner polls for it). */
export function cancelRequestPath(queueRoot: string, jobId: string): string {
  return path.join(queueRoot, 'cancel', jobId);
}
