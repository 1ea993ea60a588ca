/**
 * One attempt of one step: build the invocation (simulated or real CLI, or a command argv), run
 * it under the executor, parse its output, and classify the outcome. No queue or state IO here.
 */
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import type { NormalizedStep } from '../contracts/index.ts';
import type { Config } from '../lib/config.ts';
import { runProcess, type ExecResult } from '../workers/executor.ts';
import { getAdapter, simulatedInvocation } from '../workers/registry.ts';
import { priceUsage } from '../workers/pricing.ts';
import { redactText, sensitiveValues, StreamRedactor } from './secrets.ts';
import { EMPTY_USAGE, type AgentError, type AgentInvocation, type AgentOutcome, type InvocationContext, type OutputParser } from '../workers/types.ts';

export interface AttemptRequest {
  config: Config;
  jobId: string;
  step: NormalizedStep;
  prompt: string;
  attempt: number;
  workspaceDir: string;
  /** workspaces/<job_id>: per-job home and tmp live under it. */
  jobWorkspaceRoot: string;
  resumeSessionId: string | null;
  logFile: string;
  runId: string;
  signal: AbortSignal;
  onSpawn: (pid: number) => void;
  onLine: (line: string, stream: 'stdout' | 'stderr') => void;
}

export interface AttemptResult {
  status: 'success' | 'failed' | 'timeout' | 'needs_human' | 'cancelled';
  summary: string;
  sessionId: string | null;
  error: (Omit<AgentError, 'code'> & { code: string }) | null;
  costUsd: number;
  tokensIn: number;
  tokensOut: number;
  tokensCached: number;
  turns: number;
  exec: ExecResult;
  /** Known secret values (SENSITIVE_ENV_VARS, credential-named variables) redacted from the output. */
  redactions: number;
}

/** The environment an agent gets: a small allowlist, never the runner's whole environment. */
export function baseEnv(env: Record<string, string | undefined>, tmpDir: string): Record<string, string> {
  const clear = env.SANDBOX_CLEAR_ENV === '1';
  const keep = clear ? ['PATH'] : ['PATH', 'HOME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'USER', 'LOGNAME', 'SHELL', 'TERM'];
  const allow = (env.ENV_ALLOWLIST ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const out: Record<string, string> = {};
  for (const k of [...keep, ...allow]) {
    const v = env[k];
    if (v !== undefined) out[k] = v;
  }
  out.TMPDIR = tmpDir;
  return out;
}

class CommandParser implements OutputParser {
  private tail: string[] = [];
  onLine(line: string): void {
    this.tail.push(line);
    if (this.tail.length > 20) this.tail.shift();
  }
  finish(exit: { exitCode: number | null; signal: string | null }): AgentOutcome {
    const ok = exit.exitCode === 0;
    return {
      status: ok ? 'success' : 'failed',
      summary: this.tail.join('\n').slice(-4000),
      session_id: null,
      usage: EMPTY_USAGE,
      error: ok ? null : { code: 'failed', message: exit.signal ? `command killed by ${exit.signal}` : `command exited with code ${exit.exitCode}` },
    };
  }
}

export async function runAttempt(req: AttemptRequest): Promise<AttemptResult> {
  const { step, config } = req;
  const tmpDir = path.join(req.jobWorkspaceRoot, 'tmp');
  const agentHome = path.join(req.jobWorkspaceRoot, 'home', step.agent);
  await fsp.mkdir(tmpDir, { recursive: true });
  await fsp.mkdir(agentHome, { recursive: true });

  let invocation: AgentInvocation;
  let parser: OutputParser;
  if (step.agent === 'command') {
    const [file, ...args] = step.command ?? [];
    invocation = { file: file ?? 'false', args, env: {} };
    parser = new CommandParser();
  } else {
    const adapter = getAdapter(step.agent);
    const ctx: InvocationContext = {
      jobId: req.jobId,
      step,
      prompt: req.prompt,
      workspaceDir: req.workspaceDir,
      agentHome,
      attempt: req.attempt,
      resumeSessionId: req.resumeSessionId,
    };
    invocation = config.enableRealCli
      ? adapter.buildInvocation(ctx)
      : simulatedInvocation(adapter, ctx, JSON.stringify({ step_id: step.step_id, attempt: req.attempt, role: step.role, simulate: step.simulate ?? {} }));
    parser = adapter.createParser();
  }

  const env = { ...baseEnv(process.env, tmpDir), ...invocation.env, ORCH_JOB_ID: req.jobId, ORCH_STEP_ID: step.step_id, ORCH_ATTEMPT: String(req.attempt) };
  // redaction at the source: known secret values never reach the log, the parser or the events
  const known = sensitiveValues(config.secrets.sensitiveEnvVars, process.env, env);
  const redactors: StreamRedactor[] = [];
  const exec = await runProcess({
    file: invocation.file,
    args: invocation.args,
    env,
    redactStream: known.length > 0 ? () => { const r = new StreamRedactor(known); redactors.push(r); return r; } : undefined,
    cwd: req.workspaceDir,
    runId: req.runId,
    timeoutMs: step.timeout_sec * 1000,
    idleMs: config.maxIdleSec * 1000,
    killGraceMs: config.killGraceMs,
    logFile: req.logFile,
    maxOutputChars: config.maxSubprocessOutputChars,
    signal: req.signal,
    onSpawn: req.onSpawn,
    onLine: (line, stream) => {
      parser.onLine(line, stream);
      req.onLine(line, stream);
    },
  });

  const finished = parser.finish({ exitCode: exec.exitCode, signal: exec.signal });
  // what goes into state.json, context.json and the results: secret patterns redacted too
  const parsed = { ...finished, summary: redactText(finished.summary, known).text, error: finished.error ? { ...finished.error, message: redactText(finished.error.message, known).text } : null };
  const usage = parsed.usage;
  const costUsd = step.agent === 'command' ? 0 : priceUsage(step.agent, usage);
  const base = {
    summary: parsed.summary,
    sessionId: parsed.session_id,
    costUsd,
    tokensIn: usage.tokens_in,
    tokensOut: usage.tokens_out,
    tokensCached: usage.tokens_cached,
    turns: usage.turns,
    exec,
    redactions: redactors.reduce((n, r) => n + r.hits, 0),
  };
  if (exec.spawnError) return { ...base, status: 'failed', error: { code: 'crash', message: `could not start ${invocation.file}: ${exec.spawnError}` } };
  if (exec.cancelled) return { ...base, status: 'cancelled', error: { code: 'cancelled', message: 'cancelled' } };
  if (exec.timedOut) return { ...base, status: 'timeout', error: { code: 'timeout', message: `timed out after ${step.timeout_sec}s; process group killed` } };
  if (exec.idleTimedOut) return { ...base, status: 'timeout', error: { code: 'idle', message: `no output for ${config.maxIdleSec}s (RUNNER_MAX_IDLE_SEC); process group killed` } };
  return { ...base, status: parsed.status, error: parsed.error };
}
