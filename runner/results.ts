/**
 * Building result.json objects (pure). Step results come from state.json plus what the attempt
 * measured; the job result aggregates the step results and the job's patch.
 */
import type { JobResult, NormalizedJob, Result, StepResult } from '../contracts/index.ts';
import { diffStats } from './workspace.ts';
import type { JobState } from './state.ts';

export interface StepExtras {
  metrics?: Partial<Result['metrics']>;
  files_changed?: string[];
  inputs?: NonNullable<Result['inputs']>;
  secrets_check?: Result['secrets_check'];
  change_status?: Result['change_status'];
}

export function stepArtifactPaths(stepId: string): Record<string, string> {
  const d = `steps/${stepId}`;
  return { result: `${d}/result.json`, report: `${d}/report.md`, patch: `${d}/patch.diff`, logs: `${d}/logs.txt` };
}

export function buildStepResult(job: NormalizedJob, stepId: string, state: JobState, extras: StepExtras): StepResult {
  const def = job.steps.find((s) => s.step_id === stepId);
  const st = state.steps.find((s) => s.step_id === stepId);
  if (!def || !st) throw new Error(`unknown step ${stepId}`);
  return {
    schema_version: '1.0',
    kind: 'step',
    job_id: job.job_id,
    step_id: stepId,
    agent: def.agent,
    role: def.role,
    status: st.status,
    attempts: st.attempts,
    started_at: st.started_at,
    finished_at: st.finished_at,
    summary: st.summary,
    change_status: extras.change_status ?? 'unknown',
    secrets_check: extras.secrets_check ?? (st.attempts > 0 ? 'pending' : 'skipped'),
    metrics: {
      duration_ms: st.duration_ms,
      cost_usd: st.cost_usd,
      tokens_in: st.tokens_in,
      tokens_out: st.tokens_out,
      ...extras.metrics,
    },
    error: st.error,
    session_id: st.session_id,
    files_changed: extras.files_changed ?? [],
    ...(extras.inputs ? { inputs: extras.inputs } : {}),
    artifacts: stepArtifactPaths(stepId),
  };
}

export function buildJobResult(job: NormalizedJob, state: JobState, steps: StepResult[], jobPatch: string): JobResult {
  const stats = diffStats(jobPatch);
  const byId = new Map(steps.map((r) => [r.step_id, r]));
  const sum = (f: (r: StepResult) => number): number => steps.reduce((a, r) => a + f(r), 0);
  const started = state.started_at ? Date.parse(state.started_at) : null;
  const ended = state.finished_at ? Date.parse(state.finished_at) : Date.parse(state.updated_at);
  const last = [...state.steps].reverse().find((s) => s.summary);
  const secretsFailed = steps.some((r) => r.secrets_check === 'failed');
  const anyChecked = steps.some((r) => r.secrets_check === 'passed');
  return {
    schema_version: '1.0',
    kind: 'job',
    job_id: job.job_id,
    status: state.status,
    attempts: state.claims,
    started_at: state.started_at,
    finished_at: state.finished_at,
    summary: last?.summary ?? '',
    change_status: stats.files.length > 0 ? 'changed' : state.workspace ? 'unchanged' : 'unknown',
    secrets_check: secretsFailed ? 'failed' : anyChecked ? 'passed' : state.finished_at ? 'skipped' : 'pending',
    metrics: {
      duration_ms: started !== null ? Math.max(0, ended - started) : 0,
      cost_usd: Math.round(sum((r) => r.metrics.cost_usd) * 1e6) / 1e6,
      tokens_in: sum((r) => r.metrics.tokens_in),
      tokens_out: sum((r) => r.metrics.tokens_out),
      tokens_cached: sum((r) => r.metrics.tokens_cached ?? 0),
      files_changed: stats.files.length,
      lines_added: stats.added,
      lines_removed: stats.removed,
    },
    error: state.error,
    files_changed: stats.files,
    steps: state.steps.map((s) => ({
      step_id: s.step_id,
      agent: s.agent,
      role: s.role,
      status: s.status,
      attempts: s.attempts,
      duration_ms: s.duration_ms,
      cost_usd: byId.get(s.step_id)?.metrics.cost_usd ?? s.cost_usd,
      summary: s.summary.slice(0, 500),
    })),
    artifacts: { job: 'job.json', state: 'state.json', result: 'result.json', context: 'context.json', report: 'report.md', patch: 'patch.diff', logs: 'logs.txt', events: 'events.jsonl' },
  };
}
