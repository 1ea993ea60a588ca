/**
 * Pure decisions of the runner: what happens after a step attempt (retry with backoff, advance,
 * park for a human, goto, finish), and what a job's final status is. No IO, no clock: inputs in,
 * decision out, so every routing rule is tested as a table.
 */
import type { NormalizedJob, NormalizedStep, ResultStatus } from '../contracts/index.ts';
import type { AgentErrorCode } from '../workers/types.ts';
import type { JobState, WaitReason } from './state.ts';

/** A step may be entered at most this many times through goto loops. */
export const MAX_STEP_VISITS = 5;

export interface AttemptOutcome {
  status: 'success' | 'failed' | 'timeout' | 'needs_human' | 'cancelled';
  errorCode?: AgentErrorCode | string;
  /** For rate limits: when to try again. */
  resumeAfter?: string | null;
}

export type Decision =
  | { kind: 'advance'; next: string | null; tolerated: boolean }
  | { kind: 'retry'; delayMs: number }
  | { kind: 'park'; reason: WaitReason; resumeAfter: string | null }
  | { kind: 'goto'; next: string }
  | { kind: 'finish'; status: ResultStatus };

/** Errors a retry cannot fix. */
const NOT_RETRYABLE = new Set<string>(['auth', 'permission_denied', 'E_SECRETS', 'E_NOT_ALLOWED', 'E_PREFLIGHT']);

export function backoffMs(step: Pick<NormalizedStep, 'retry_backoff_sec'>, failedAttempt: number, capSec: number): number {
  const sec = step.retry_backoff_sec * 2 ** Math.max(0, failedAttempt - 1);
  return Math.round(Math.min(sec, capSec) * 1000);
}

export function nextStepId(job: NormalizedJob, stepId: string): string | null {
  const i = job.steps.findIndex((s) => s.step_id === stepId);
  return job.steps[i + 1]?.step_id ?? null;
}

export function decideAfterAttempt(
  job: NormalizedJob,
  state: JobState,
  stepId: string,
  outcome: AttemptOutcome,
  opts: { maxRetryBackoffSec: number },
): Decision {
  const step = job.steps.find((s) => s.step_id === stepId);
  const st = state.steps.find((s) => s.step_id === stepId);
  if (!step || !st) return { kind: 'finish', status: 'failed' };
  switch (outcome.status) {
    case 'success':
      return { kind: 'advance', next: nextStepId(job, stepId), tolerated: false };
    case 'cancelled':
      return { kind: 'finish', status: 'cancelled' };
    case 'needs_human':
      return { kind: 'park', reason: 'needs_human', resumeAfter: null };
    default:
      break;
  }
  if (outcome.errorCode === 'rate_limit') return { kind: 'park', reason: 'rate_limited', resumeAfter: outcome.resumeAfter ?? null };
  const retryable = !NOT_RETRYABLE.has(outcome.errorCode ?? '');
  if (retryable && st.visit_attempts < step.max_retries + 1) {
    return { kind: 'retry', delayMs: backoffMs(step, st.visit_attempts, opts.maxRetryBackoffSec) };
  }
  const route = step.on_failure;
  if (route === 'continue') return { kind: 'advance', next: nextStepId(job, stepId), tolerated: true };
  if (route === 'ask_human') return { kind: 'park', reason: 'ask_human', resumeAfter: null };
  if (route.startsWith('goto:')) {
    const target = route.slice(5);
    const tst = state.steps.find((s) => s.step_id === target);
    if (tst && tst.visits < MAX_STEP_VISITS) return { kind: 'goto', next: target };
    return { kind: 'finish', status: outcome.status === 'timeout' ? 'timeout' : 'failed' };
  }
  return { kind: 'finish', status: outcome.status === 'timeout' ? 'timeout' : 'failed' };
}

/** The job's status when no step is left to run: success unless a step failed and was not tolerated. */
export function finalJobStatus(state: JobState): ResultStatus {
  for (const s of state.steps) {
    if (s.tolerated) continue;
    if (s.status === 'failed' || s.status === 'timeout' || s.status === 'cancelled') return s.status === 'timeout' ? 'timeout' : s.status;
  }
  return 'success';
}

/** Queue directory for a finished job's status. */
export function terminalQueueState(status: ResultStatus): 'done' | 'failed' {
  return status === 'success' ? 'done' : 'failed';
}
