/**
 * Fill in a submitted job's defaults. Pure: the clock and the id source are parameters.
 * The same function serves `orchestrator submit`, the webhook and the scheduler, so a job looks
 * the same whichever door it came through.
 */
import type { Job, NormalizedJob, NormalizedStep, Step } from './index.ts';

export const STEP_DEFAULTS = {
  timeout_sec: 600,
  max_retries: 1,
  retry_backoff_sec: 2,
  on_failure: 'stop',
} as const;

const DEFAULT_ROLES: Record<Step['agent'], string> = {
  opencode: 'planner',
  codex: 'implementer',
  claude: 'reviewer',
  droid: 'implementer',
  gemini: 'assistant',
  command: 'command',
};

/** The default pipeline: plan (opencode) → implement (codex) → review (claude). */
export function defaultPipeline(goal: string): Step[] {
  return [
    {
      step_id: '01_plan',
      agent: 'opencode',
      role: 'planner',
      prompt: `Write a short, concrete, step-by-step plan for this goal. Do not change code yet.\n\nGoal: ${goal}`,
    },
    {
      step_id: '02_implement',
      agent: 'codex',
      role: 'implementer',
      prompt: `Implement the plan below in this repository. Keep the change small and focused.\n\nGoal: ${goal}`,
      input_artifacts: ['steps/01_plan/report.md'],
    },
    {
      step_id: '03_review',
      agent: 'claude',
      role: 'reviewer',
      prompt: `Review the change made for this goal against the plan. List concrete problems, or say it is ready.\n\nGoal: ${goal}`,
      input_artifacts: ['steps/01_plan/report.md', 'steps/02_implement/report.md', 'steps/02_implement/patch.diff'],
    },
  ];
}

export function normalizeStep(step: Step, goal: string): NormalizedStep {
  return {
    ...step,
    role: step.role ?? DEFAULT_ROLES[step.agent],
    prompt: step.prompt ?? goal,
    timeout_sec: step.timeout_sec ?? STEP_DEFAULTS.timeout_sec,
    max_retries: step.max_retries ?? STEP_DEFAULTS.max_retries,
    retry_backoff_sec: step.retry_backoff_sec ?? STEP_DEFAULTS.retry_backoff_sec,
    input_artifacts: step.input_artifacts ?? [],
    apply_patches_from: step.apply_patches_from ?? [],
    allowed_tools: step.allowed_tools ?? [],
    on_failure: step.on_failure ?? STEP_DEFAULTS.on_failure,
    requires_approval: step.requires_approval ?? false,
    resume_session: step.resume_session ?? false,
  };
}

export interface NormalizeContext {
  now: Date;
  newId: () => string;
  /** Who submitted it, when the payload does not say. */
  sourceType?: 'webhook' | 'manual' | 'cron';
}

export function normalizeJob(job: Job, ctx: NormalizeContext): NormalizedJob {
  const nowIso = ctx.now.toISOString();
  const steps = (job.steps ?? defaultPipeline(job.goal)).map((s) => normalizeStep(s, job.goal));
  return {
    ...job,
    schema_version: '1.0',
    job_id: job.job_id ?? ctx.newId(),
    created_at: job.created_at ?? nowIso,
    submitted_at: nowIso,
    source: job.source ?? { type: ctx.sourceType ?? 'manual' },
    workdir: job.workdir ?? '.',
    tags: job.tags ?? [],
    metadata: job.metadata ?? {},
    priority: job.priority ?? 0,
    context_window: job.context_window ?? [],
    context_strategy: job.context_strategy ?? 'full',
    artifact_handoff: job.artifact_handoff ?? 'workspace_first',
    policy: {
      ...job.policy,
      sandbox: job.policy?.sandbox ?? false,
      network: job.policy?.network ?? 'allow',
      allowed_binaries: job.policy?.allowed_binaries ?? [],
      requires_approval: job.policy?.requires_approval ?? false,
    },
    steps,
  };
}
