/**
 * Applying decisions and human answers to state.json (pure). The runner, recovery and the
 * approve/reject/cancel/retry commands all change a job's state through these functions, so a job
 * resumes the same way whoever moved it.
 */
import type { NormalizedJob, ResultStatus } from '../contracts/index.ts';
import { finalJobStatus, nextStepId, type Decision } from './decide.ts';
import { stepState, updateStep, withHistory, type JobState, type StepError, type WaitReason } from './state.ts';

export type Action = 'continue' | 'retry' | 'park' | 'finish';

/** Fold a decision about `stepId` into the state; returns what the caller must do next. */
export function applyDecision(job: NormalizedJob, state: JobState, stepId: string, decision: Decision, nowIso: string, waitMessage = ''): { state: JobState; action: Action } {
  switch (decision.kind) {
    case 'advance': {
      let s = updateStep(state, stepId, decision.tolerated ? { tolerated: true } : {});
      s = { ...s, cursor: decision.next };
      if (decision.next === null) return { state: finish(s, finalJobStatus(s), nowIso), action: 'finish' };
      return { state: s, action: 'continue' };
    }
    case 'goto':
      return { state: withHistory({ ...state, cursor: decision.next }, nowIso, 'goto', stepId, decision.next), action: 'continue' };
    case 'retry':
      return { state: updateStep(state, stepId, { status: 'retryable' }), action: 'retry' };
    case 'park':
      return { state: park(state, decision.reason, stepId, nowIso, decision.resumeAfter, waitMessage), action: 'park' };
    case 'finish':
      return { state: finish(state, decision.status, nowIso), action: 'finish' };
  }
}

export function park(state: JobState, reason: WaitReason, stepId: string | null, nowIso: string, resumeAfter: string | null, message: string): JobState {
  const s: JobState = {
    ...state,
    queue_state: 'awaiting_approval',
    status: 'needs_human',
    owner: null,
    waiting: { reason, step_id: stepId, since: nowIso, resume_after: resumeAfter, message },
  };
  return withHistory(s, nowIso, `parked:${reason}`, stepId ?? undefined, message || undefined);
}

/** Close the job: unfinished steps become skipped (or cancelled for the running one). */
export function finish(state: JobState, status: ResultStatus, nowIso: string, error?: StepError | null): JobState {
  const steps = state.steps.map((s) => {
    if (s.status === 'pending') return { ...s, status: 'skipped' as const };
    if (s.status === 'running' || s.status === 'retryable') return { ...s, status: status === 'cancelled' ? ('cancelled' as const) : ('failed' as const), finished_at: s.finished_at ?? nowIso };
    return s;
  });
  const firstError = error ?? state.error ?? steps.find((s) => s.error && !s.tolerated && s.status !== 'success')?.error ?? null;
  const s: JobState = {
    ...state,
    steps,
    status,
    queue_state: status === 'success' ? 'done' : 'failed',
    cursor: status === 'success' ? null : state.cursor,
    finished_at: nowIso,
    owner: null,
    waiting: null,
    error: status === 'success' ? null : firstError,
  };
  return withHistory(s, nowIso, `finished:${status}`);
}

export interface HumanAnswer {
  by: string;
  note?: string;
  overBudget?: boolean;
}

/** `orchestrator approve`: resume at the gated step, or past the step a human was asked about. */
export function applyApproval(job: NormalizedJob, state: JobState, answer: HumanAnswer, nowIso: string): JobState {
  const w = state.waiting;
  const approval = { reason: w?.reason ?? ('approval' as WaitReason), step_id: w?.step_id ?? null, at: nowIso, by: answer.by, decision: 'approved' as const, ...(answer.note ? { note: answer.note } : {}), ...(answer.overBudget ? { over_budget: true } : {}) };
  let s: JobState = { ...state, approvals: [...state.approvals, approval], waiting: null, queue_state: 'pending', status: 'pending' };
  if (w?.step_id) {
    if (w.reason === 'gate') s = updateStep(s, w.step_id, { gate_approved: true });
    if (w.reason === 'ask_human' || w.reason === 'needs_human') {
      s = updateStep(s, w.step_id, { tolerated: true });
      const next = nextStepId(job, w.step_id);
      s = { ...s, cursor: next };
      if (next === null) return finish(withHistory(s, nowIso, 'approved', w.step_id), finalJobStatus(s), nowIso);
    }
  }
  return withHistory(s, nowIso, 'approved', w?.step_id ?? undefined, answer.note);
}

export function applyRejection(state: JobState, answer: HumanAnswer, nowIso: string): JobState {
  const w = state.waiting;
  const s: JobState = { ...state, approvals: [...state.approvals, { reason: w?.reason ?? 'approval', step_id: w?.step_id ?? null, at: nowIso, by: answer.by, decision: 'rejected', ...(answer.note ? { note: answer.note } : {}) }] };
  return finish(withHistory(s, nowIso, 'rejected', w?.step_id ?? undefined, answer.note), 'failed', nowIso, { code: 'E_REJECTED', message: `rejected by ${answer.by}${answer.note ? `: ${answer.note}` : ''}` });
}

/** A step attempt that was interrupted (runner crash): counted, recorded as a crash. */
export function interruptedAttempt(state: JobState, stepId: string, nowIso: string): JobState {
  const st = stepState(state, stepId);
  return updateStep(state, stepId, {
    status: 'failed',
    finished_at: nowIso,
    error: { code: 'E_RUNNER_CRASHED', message: `the runner died during attempt ${st.attempts}` },
  });
}

/**
 * `orchestrator retry`: a failed job runs again from the step it stopped at (its cursor, else its
 * first step that did not succeed). That step and every later one start over: pending, a fresh
 * retry budget (visit_attempts), no error; their attempt numbers go on (never reused), their costs
 * stay counted. Earlier steps, and a gate a human already approved, are not asked again.
 * Null when nothing is left to run.
 */
export function applyRetry(job: NormalizedJob, state: JobState, answer: HumanAnswer, nowIso: string): JobState | null {
  const from = state.cursor ?? state.steps.find((s) => s.status !== 'success')?.step_id ?? null;
  const at = from === null ? -1 : job.steps.findIndex((s) => s.step_id === from);
  if (from === null || at < 0) return null;
  const again = new Set(job.steps.slice(at).map((s) => s.step_id));
  const steps = state.steps.map((s) => (again.has(s.step_id) ? { ...s, status: 'pending' as const, visit_attempts: 0, tolerated: false, error: null, finished_at: null } : s));
  const s: JobState = { ...state, steps, cursor: from, status: 'pending', queue_state: 'pending', finished_at: null, error: null, owner: null, waiting: null };
  return withHistory(s, nowIso, 'retried', from, `by ${answer.by}${answer.note ? `: ${answer.note}` : ''}`);
}
