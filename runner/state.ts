/**
 * state.json: the operational state of one job (per-step status, attempts, cursor, waiting reason,
 * approvals). It is the truth for "which steps are finished"; the queue directory is the truth for
 * the job's queue state. Everything here is pure: IO lives in runner/artifacts.ts.
 */
import type { NormalizedJob, ResultStatus } from '../contracts/index.ts';
import type { QueueState } from '../fsqueue/states.ts';

export type WaitReason = 'approval' | 'gate' | 'ask_human' | 'needs_human' | 'budget_exceeded' | 'rate_limited';

export interface Waiting {
  reason: WaitReason;
  step_id: string | null;
  since: string;
  /** When the job resumes by itself (budget reset, rate-limit reset). */
  resume_after: string | null;
  message: string;
}

export interface Approval {
  reason: WaitReason;
  step_id: string | null;
  at: string;
  by: string;
  decision: 'approved' | 'rejected';
  note?: string;
  over_budget?: boolean;
}

export interface StepError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface StepState {
  step_id: string;
  agent: string;
  role: string;
  status: ResultStatus;
  /** Attempts started, ever (each one persisted before the agent is spawned). */
  attempts: number;
  /** Attempts in the current visit: what max_retries limits. */
  visit_attempts: number;
  visits: number;
  gate_approved: boolean;
  /** A failure the job carries on past (on_failure: continue, or approved by a human). */
  tolerated: boolean;
  started_at: string | null;
  finished_at: string | null;
  base_commit: string | null;
  head_commit: string | null;
  duration_ms: number;
  cost_usd: number;
  tokens_in: number;
  tokens_out: number;
  session_id: string | null;
  summary: string;
  error: StepError | null;
}

export interface HistoryEntry {
  at: string;
  event: string;
  step_id?: string;
  detail?: string;
}

export interface JobState {
  schema_version: '1.0';
  job_id: string;
  queue_state: QueueState;
  status: ResultStatus;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** The next step to run; null when there is none left. */
  cursor: string | null;
  claims: number;
  owner: { runner_id: string; pid: number; host: string; claim_id: string } | null;
  waiting: Waiting | null;
  approvals: Approval[];
  /** `head`: the last commit a step attempt made (kept here to spare a git call per step). */
  workspace: { path: string; base_commit: string; source: 'clone' | 'fresh'; head?: string } | null;
  error: StepError | null;
  steps: StepState[];
  history: HistoryEntry[];
}

const MAX_HISTORY = 200;

export function initialState(job: NormalizedJob, nowIso: string): JobState {
  return {
    schema_version: '1.0',
    job_id: job.job_id,
    queue_state: 'pending',
    status: 'pending',
    created_at: nowIso,
    updated_at: nowIso,
    started_at: null,
    finished_at: null,
    cursor: job.steps[0]?.step_id ?? null,
    claims: 0,
    owner: null,
    waiting: null,
    approvals: [],
    workspace: null,
    error: null,
    steps: job.steps.map((s) => ({
      step_id: s.step_id,
      agent: s.agent,
      role: s.role,
      status: 'pending',
      attempts: 0,
      visit_attempts: 0,
      visits: 0,
      gate_approved: false,
      tolerated: false,
      started_at: null,
      finished_at: null,
      base_commit: null,
      head_commit: null,
      duration_ms: 0,
      cost_usd: 0,
      tokens_in: 0,
      tokens_out: 0,
      session_id: null,
      summary: '',
      error: null,
    })),
    history: [],
  };
}

export function stepState(state: JobState, stepId: string): StepState {
  const s = state.steps.find((x) => x.step_id === stepId);
  if (!s) throw new Error(`state.json of ${state.job_id} has no step ${stepId}`);
  return s;
}

/**
 * Pure: where a closing recorded in the state sends the job: done/failed once it has finished,
 * awaiting_approval once it is parked with its reason; null while it is neither. The runner
 * persists this BEFORE it writes the final artifacts, records the callback and moves the file.
 */
export function decidedClosing(state: JobState): 'done' | 'failed' | 'awaiting_approval' | null {
  if ((state.queue_state === 'done' || state.queue_state === 'failed') && state.finished_at !== null) return state.queue_state;
  if (state.queue_state === 'awaiting_approval' && state.waiting !== null) return 'awaiting_approval';
  return null;
}

export function withHistory(state: JobState, nowIso: string, event: string, stepId?: string, detail?: string): JobState {
  const entry: HistoryEntry = { at: nowIso, event, ...(stepId ? { step_id: stepId } : {}), ...(detail ? { detail } : {}) };
  const history = [...state.history, entry];
  return { ...state, updated_at: nowIso, history: history.length > MAX_HISTORY ? history.slice(-MAX_HISTORY) : history };
}

export function updateStep(state: JobState, stepId: string, patch: Partial<StepState>): JobState {
  return { ...state, steps: state.steps.map((s) => (s.step_id === stepId ? { ...s, ...patch } : s)) };
}

/** Session id each agent last reported (context.json keeps these for resume). */
export function sessionsByAgent(state: JobState): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of state.steps) if (s.session_id) out[s.agent] = s.session_id;
  return out;
}

export const FINISHED_STEP: readonly ResultStatus[] = ['success', 'skipped'];
