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

/**
 * `given` over `defaults`; a key given as undefined keeps its default. The defaults come first
 * and the given object is spread over them: V8 clones a spread fast, but every key ADDED to a
 * spread clone afterwards cost ~0.7 µs (the old `{ ...step, role, prompt, ... }` took 8-10 µs a
 * step, 14% of the gateway's main thread under ingest; bench/README.md). Key order: the defaults'.
 */
function withDefaults<D extends object, G extends object>(defaults: D, given: G): Omit<G, keyof D> & D {
  const out = { ...defaults, ...given } as Record<string, unknown>;
  for (const k of Object.keys(defaults)) if (out[k] === undefined) out[k] = (defaults as Record<string, unknown>)[k];
  return out as Omit<G, keyof D> & D;
}

export function normalizeStep(step: Step, goal: string): NormalizedStep {
  return withDefaults(
    {
      step_id: step.step_id,
      agent: step.agent,
      role: DEFAULT_ROLES[step.agent],
      prompt: goal,
      timeout_sec: STEP_DEFAULTS.timeout_sec as number,
      max_retries: STEP_DEFAULTS.max_retries as number,
      retry_backoff_sec: STEP_DEFAULTS.retry_backoff_sec as number,
      input_artifacts: [] as string[],
      apply_patches_from: [] as string[],
      allowed_tools: [] as string[],
      on_failure: STEP_DEFAULTS.on_failure as NormalizedStep['on_failure'],
      requires_approval: false,
      resume_session: false,
    },
    step,
  );
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
  const given = withDefaults(
    {
      schema_version: '1.0' as const,
      job_id: '',
      created_at: nowIso,
      submitted_at: nowIso,
      source: { type: ctx.sourceType ?? 'manual' } as NormalizedJob['source'],
      goal: job.goal,
      workdir: '.',
      tags: [] as string[],
      metadata: {} as NormalizedJob['metadata'],
      priority: 0,
      context_window: [] as NormalizedJob['context_window'],
      context_strategy: 'full' as NormalizedJob['context_strategy'],
      artifact_handoff: 'workspace_first' as NormalizedJob['artifact_handoff'],
      policy: {} as NormalizedJob['policy'],
      steps,
    },
    job,
  );
  // decided here whatever was submitted (every key already exists: assigning is cheap)
  given.schema_version = '1.0';
  given.job_id = job.job_id ?? ctx.newId();
  given.submitted_at = nowIso;
  given.steps = steps;
  given.policy = withDefaults({ sandbox: false, network: 'allow' as NormalizedJob['policy']['network'], allowed_binaries: [] as string[], requires_approval: false }, job.policy ?? {});
  return given;
}
