/**
 * The contract between the runner and an agent adapter. An adapter is a small module that only
 * builds argv/env from a step and parses that CLI's output; it never spawns anything itself
 * (workers/executor.ts does, for every agent alike).
 */
import type { AgentName, NormalizedStep } from '../contracts/index.ts';

export interface InvocationContext {
  jobId: string;
  step: NormalizedStep;
  /** The full prompt: the step's prompt plus bounded inputs and context. */
  prompt: string;
  /** cwd of the agent: workspaces/<job_id>/work */
  workspaceDir: string;
  /** Per-job private directory for the CLI's own config/home (CLAUDE_CONFIG_DIR, CODEX_HOME...). */
  agentHome: string;
  /** 1-based attempt number of this step. */
  attempt: number;
  /** Session to resume (retry of a failed step, or resume_session: true), if any. */
  resumeSessionId: string | null;
}

export interface AgentInvocation {
  /** argv[0]: a binary name resolved on PATH, or an absolute path. Never run through a shell. */
  file: string;
  args: string[];
  /** Extra environment for this CLI (merged over the runner's filtered environment). */
  env: Record<string, string>;
}

export interface AgentUsage {
  /** USD as reported by the CLI; null when the CLI reports tokens only (priced by the runner). */
  cost_usd: number | null;
  tokens_in: number;
  tokens_out: number;
  tokens_cached: number;
  turns: number;
  /** Model name, when the CLI reports it (used for pricing). */
  model: string | null;
}

/** Error classes the runner routes on (rate_limit parks the job; auth fails fast; ...). */
export type AgentErrorCode =
  | 'auth'
  | 'rate_limit'
  | 'model_error'
  | 'timeout'
  | 'idle'
  | 'crash'
  | 'permission_denied'
  | 'tool_failed'
  | 'failed';

export interface AgentError {
  code: AgentErrorCode;
  message: string;
  /** ISO time the rate/usage limit resets, when the CLI says it. */
  reset_at?: string;
  http_status?: number;
}

export interface AgentOutcome {
  status: 'success' | 'failed' | 'needs_human';
  /** The agent's final message. */
  summary: string;
  session_id: string | null;
  usage: AgentUsage;
  error: AgentError | null;
  /**
   * Facts that make a "success" doubtful (e.g. codex commands that failed inside an exit-0 run).
   * The runner fails a successful run that has warnings and changed nothing in the workspace.
   */
  warnings?: string[];
}

export interface ProcessExit {
  exitCode: number | null;
  signal: string | null;
}

/** Streaming parser: sees every line once, keeps aggregates only (bounded memory). */
export interface OutputParser {
  onLine(line: string, stream: 'stdout' | 'stderr'): void;
  finish(exit: ProcessExit): AgentOutcome;
}

/** The operator's environment as the runner sees it (read-only; never passed on whole). */
export type OperatorEnv = Readonly<Record<string, string | undefined>>;

/** A file of the CLI's own configuration, relative to ctx.agentHome. */
export interface HomeFile {
  path: string;
  content: string;
  /** 0o600 for files that hold a credential. */
  mode?: number;
}

/**
 * Real mode only: what makes the CLI run headless against the operator's model endpoint, with
 * non-essential traffic off. Pure: the runner writes `files` into ctx.agentHome and merges `env`.
 */
export interface AgentHomeSetup {
  files: HomeFile[];
  /** Endpoint/key variables passed through (only those in the adapter's passEnv) and config variables. */
  env: Record<string, string>;
  /** The model argument the CLI gets (step.model, or the operator's default for this agent). */
  model?: string;
}

export interface AgentAdapter {
  readonly name: AgentName;
  /** The real CLI's binary name (what ALLOWED_BINARIES and MIN_BINARY_VERSIONS refer to). */
  readonly binary: string;
  /**
   * Operator variables this CLI (and only this CLI) gets in real mode: model endpoint, credentials,
   * model and retry knobs. Not subject to ENV_ALLOWLIST; credential-named ones are redacted.
   */
  readonly passEnv: readonly string[];
  /** Does the CLI itself restrict the model to a step's allowed_tools (a flag or a config)? Else they are advice in AGENTS.md. */
  readonly enforcesAllowedTools: boolean;
  buildInvocation(ctx: InvocationContext): AgentInvocation;
  prepareHome(ctx: InvocationContext, env: OperatorEnv): AgentHomeSetup;
  /** The model endpoint the CLI will call (a URL), or null for the vendor's own (remote) default. */
  modelEndpoint(env: OperatorEnv): string | null;
  createParser(): OutputParser;
}

export const EMPTY_USAGE: AgentUsage = { cost_usd: null, tokens_in: 0, tokens_out: 0, tokens_cached: 0, turns: 0, model: null };

/** Marker an agent's final message may start with to ask for a human (real or simulated). */
export const NEEDS_HUMAN_MARKER = 'NEEDS_HUMAN:';
