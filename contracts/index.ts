/**
 * Contracts: types derived from the JSON Schemas (types.generated.ts), validators compiled once,
 * and the pure normalisation that fills in a submitted job's defaults.
 */
import type { Job, Step, Result, Simulate, Policy, ContextEntry } from './types.generated.ts';

export type { Job, Step, Result, Simulate, Policy, ContextEntry };

export const AGENTS = ['claude', 'codex', 'opencode', 'droid', 'gemini', 'command'] as const;
export type AgentName = Step['agent'];
export type ResultStatus = Result['status'];
export type StepResult = Result & { kind: 'step'; step_id: string; agent: string; role: string };
export type JobResult = Result & { kind: 'job'; steps: NonNullable<Result['steps']> };

/** A step with every default filled in. */
export type NormalizedStep = Step &
  Required<Pick<Step, 'role' | 'prompt' | 'timeout_sec' | 'max_retries' | 'retry_backoff_sec' | 'input_artifacts' | 'apply_patches_from' | 'allowed_tools' | 'on_failure' | 'requires_approval' | 'resume_session'>>;

/** A job with every default filled in: what the queue stores and job.json shows. */
export type NormalizedJob = Omit<Job, 'steps'> &
  Required<Pick<Job, 'schema_version' | 'job_id' | 'created_at' | 'submitted_at' | 'source' | 'workdir' | 'tags' | 'metadata' | 'priority' | 'context_window' | 'context_strategy' | 'artifact_handoff'>> & {
    steps: NormalizedStep[];
    policy: Required<Pick<Policy, 'sandbox' | 'network' | 'allowed_binaries' | 'requires_approval'>> & Policy;
  };
