/**
 * One attempt of one step: resolve its worker preset, build the invocation (simulated or real CLI,
 * or a command argv), check it may run (binary allowlist, version preflight, sandbox/network
 * policy), isolate it, run it under the executor, parse its output, and classify the outcome. A step
 * refused by a check fails with E_NOT_ALLOWED / E_PREFLIGHT before anything is started. No queue or
 * state IO here.
 */
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import type { NormalizedJob, NormalizedStep } from '../contracts/index.ts';
import type { Config } from '../lib/config.ts';
import { OrchestratorError, errorMessage, isOrchestratorError } from '../lib/errors.ts';
import { lstatOrUndefined } from '../lib/fsutil.ts';
import { JOB_MARKER_VAR } from '../lib/proc.ts';
import { runProcess, type ExecResult } from '../workers/executor.ts';
import type { LauncherPool } from '../workers/launcher.ts';
import { getAdapter, simulatedInvocation, SIMULATOR_PATH } from '../workers/registry.ts';
import { priceUsage } from '../workers/pricing.ts';
import { findPreset, SKILLS_DIR, type WorkerPreset } from '../workers/presets.ts';
import { removeAgentDocs, writeAgentDocs } from '../workers/agent-docs.ts';
import { preflight } from '../workers/safety/preflight.ts';
import { isolate } from '../workers/isolation.ts';
import { git } from './workspace.ts';
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
  /** Warm launchers (workers/launcher.ts); absent = spawn cold. */
  launcher?: LauncherPool | undefined;
  /** What must be on disk before the process starts (the attempt's durable record). */
  ready?: Promise<void>;
  onLine: (line: string, stream: 'stdout' | 'stderr') => void;
  /** The job's policy (sandbox, network, allowed_binaries); absent = the defaults. */
  policy?: Pick<NormalizedJob['policy'], 'sandbox' | 'network' | 'allowed_binaries'>;
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

const NOT_RUN: ExecResult = { exitCode: null, signal: null, timedOut: false, idleTimedOut: false, cancelled: false, spawnError: null, durationMs: 0, outputBytes: 0, outputTruncated: false, pid: null };

/** A step refused before anything started: the reason goes to its log and its result. */
async function notRun(req: AttemptRequest, code: 'E_NOT_ALLOWED' | 'E_PREFLIGHT', message: string): Promise<AttemptResult> {
  await fsp.appendFile(req.logFile, `[orchestrator] ${code}: ${message}\n`);
  return { status: 'failed', summary: message, sessionId: null, error: { code, message }, costUsd: 0, tokensIn: 0, tokensOut: 0, tokensCached: 0, turns: 0, exec: NOT_RUN, redactions: 0 };
}

/**
 * The step as the preset shapes it: its tools (intersected with the step's own, if any) and a
 * capped timeout. A step whose tools are all outside the preset's is refused (E_NOT_ALLOWED): an
 * empty list means "no restriction" to the adapters, so the intersection must never come out empty.
 */
export function applyPreset(step: NormalizedStep, preset: WorkerPreset): NormalizedStep {
  const presetTools = preset.allowed_tools ?? [];
  const allowed = presetTools.length === 0 ? step.allowed_tools : step.allowed_tools.length === 0 ? presetTools : step.allowed_tools.filter((t) => presetTools.includes(t));
  if (presetTools.length > 0 && allowed.length === 0) {
    throw new OrchestratorError('E_NOT_ALLOWED', `step ${step.step_id} asks for tools ${step.allowed_tools.join(', ')}, none of which worker preset "${preset.id}" allows (${presetTools.join(', ')})`, { step_id: step.step_id, worker: preset.id });
  }
  const cap = preset.limits?.timeout_sec;
  return { ...step, allowed_tools: allowed, timeout_sec: cap ? Math.min(cap, step.timeout_sec) : step.timeout_sec };
}

/** Directories a sandboxed step must not see: every job's workspaces and artifacts, the queue and state database. */
function hiddenRoots(config: Config): string[] {
  const roots = [config.paths.workspacesRoot, config.paths.artifactsRoot, config.paths.queueRoot, path.dirname(config.paths.stateDbPath), config.paths.varRoot];
  const extra = (process.env.SANDBOX_HIDE_PATHS ?? '').split(',').map((s) => s.trim()).filter((s) => path.isAbsolute(s));
  return [...roots, ...extra];
}

/**
 * The per-job directories an attempt runs with: `tmp/` (TMPDIR) and `home/<agent>/` (HOME), under
 * workspaces/<job_id>. Checked on the event loop, made on the thread pool only when missing.
 */
export async function ensureAttemptDirs(jobWorkspaceRoot: string, agents: readonly string[]): Promise<void> {
  const dirs = [path.join(jobWorkspaceRoot, 'tmp'), ...new Set(agents.map((a) => path.join(jobWorkspaceRoot, 'home', a)))];
  await Promise.all(dirs.filter((d) => !lstatOrUndefined(d)).map((d) => fsp.mkdir(d, { recursive: true })));
}

export async function runAttempt(req: AttemptRequest): Promise<AttemptResult> {
  const { config } = req;
  const real = config.enableRealCli;
  const tmpDir = path.join(req.jobWorkspaceRoot, 'tmp');
  const agentHome = path.join(req.jobWorkspaceRoot, 'home', req.step.agent);
  // usually made already, with the workspace (runner/job-runner.ts) or by an earlier attempt
  await ensureAttemptDirs(req.jobWorkspaceRoot, [req.step.agent]);
  const policy = req.policy ?? { sandbox: false, network: 'allow', allowed_binaries: [] };

  let preset: WorkerPreset | null = null;
  if (req.step.worker && req.step.agent !== 'command') {
    try {
      preset = findPreset(req.step.worker, config.agents.presetsDir);
    } catch (err) {
      return notRun(req, 'E_PREFLIGHT', isOrchestratorError(err) ? err.describe() : errorMessage(err));
    }
    if (preset.agent.type !== req.step.agent) return notRun(req, 'E_PREFLIGHT', `worker preset "${preset.id}" runs ${preset.agent.type}, but step ${req.step.step_id} is a ${req.step.agent} step`);
  }
  let step = req.step;
  try {
    if (preset) step = applyPreset(req.step, preset);
  } catch (err) {
    return notRun(req, 'E_NOT_ALLOWED', errorMessage(err));
  }
  const network: 'allow' | 'deny' = policy.network === 'deny' || preset?.network === 'deny' ? 'deny' : 'allow';

  let invocation: AgentInvocation;
  let parser: OutputParser;
  let binary: string;
  let endpoint: { url: string | null; variable: string } | null = null;
  const notes: string[] = [];
  if (step.agent === 'command') {
    const [file, ...args] = step.command ?? [];
    invocation = { file: file ?? 'false', args, env: {} };
    binary = invocation.file;
    parser = new CommandParser();
  } else {
    const adapter = getAdapter(step.agent);
    if (step.allowed_tools.length > 0 && !adapter.enforcesAllowedTools) notes.push(`note: ${step.agent} has no switch to restrict its tools: allowed_tools (${step.allowed_tools.join(', ')}) is advice to the agent (AGENTS.md, ORCHESTRATOR_ALLOWED_TOOLS), not enforced`);
    let ctx: InvocationContext = { jobId: req.jobId, step, prompt: req.prompt, workspaceDir: req.workspaceDir, agentHome, attempt: req.attempt, resumeSessionId: req.resumeSessionId };
    if (real) {
      const setup = adapter.prepareHome(ctx, process.env);
      for (const f of setup.files) {
        const target = path.join(agentHome, f.path);
        await fsp.mkdir(path.dirname(target), { recursive: true });
        await fsp.writeFile(target, f.content, { mode: f.mode ?? 0o644 });
        if (f.mode !== undefined) await fsp.chmod(target, f.mode);
      }
      if (setup.model) ctx = { ...ctx, step: { ...step, model: setup.model } };
      const inv = adapter.buildInvocation(ctx);
      const command = preset?.agent.command;
      const prefix = command === undefined ? [inv.file] : typeof command === 'string' ? [command] : command;
      invocation = { file: prefix[0] ?? inv.file, args: [...prefix.slice(1), ...inv.args], env: { ...inv.env, ...setup.env } };
      binary = invocation.file;
      endpoint = { url: adapter.modelEndpoint(process.env), variable: adapter.passEnv.find((v) => /BASE_URL$/.test(v)) ?? 'the base URL variable' };
    } else {
      invocation = simulatedInvocation(adapter, ctx, JSON.stringify({ step_id: step.step_id, attempt: req.attempt, role: step.role, simulate: step.simulate ?? {} }));
      binary = adapter.binary;
    }
    parser = adapter.createParser();
  }

  const env: Record<string, string> = {
    ...baseEnv(process.env, tmpDir),
    ...(preset?.env ?? {}),
    ...invocation.env,
    ...(preset ? { ORCHESTRATOR_ALLOWED_TOOLS: step.allowed_tools.join(',') } : {}),
    [JOB_MARKER_VAR]: req.jobId,
    ORCH_STEP_ID: step.step_id,
    ORCH_ATTEMPT: String(req.attempt),
  };

  const verdict = await preflight({
    binary: path.basename(binary),
    file: invocation.file,
    env,
    allowedBinaries: config.agents.allowedBinaries,
    jobAllowedBinaries: policy.allowed_binaries,
    minVersions: config.agents.minBinaryVersions,
    checkVersions: real,
  });
  if (!verdict.ok) return notRun(req, verdict.code, verdict.message);

  if (step.agent !== 'command') {
    // a previous step's docs never leak into this one
    await removeAgentDocs(req.workspaceDir);
    if (preset) await writeAgentDocs(req.workspaceDir, step.agent, preset, step.allowed_tools, SKILLS_DIR);
  }

  const iso = await isolate({
    file: invocation.file,
    args: invocation.args,
    env,
    workDir: req.workspaceDir,
    agentHome,
    tmpDir,
    runId: req.runId,
    sandbox: policy.sandbox === true,
    network,
    endpoint: real && step.agent !== 'command' ? endpoint : null,
    hide: hiddenRoots(config),
    container: preset?.image
      ? {
          runtime: config.agents.containerRuntime,
          image: preset.image,
          ...(preset.limits?.cpu !== undefined ? { cpu: preset.limits.cpu } : {}),
          ...(preset.limits?.memory !== undefined ? { memory: preset.limits.memory } : {}),
          user: process.env.CONTAINER_USER || '1000:1000',
          readOnly: real ? [] : [path.dirname(SIMULATOR_PATH)],
        }
      : null,
  });
  if (!iso.ok) return notRun(req, 'E_PREFLIGHT', iso.message);
  notes.push(...iso.run.notes);
  if (notes.length > 0) await fsp.appendFile(req.logFile, notes.map((n) => `[orchestrator] ${n}\n`).join(''));

  // redaction at the source: known secret values never reach the log, the parser or the events
  const known = sensitiveValues(config.secrets.sensitiveEnvVars, process.env, env);
  const redactors: StreamRedactor[] = [];
  let exec: ExecResult;
  try {
    exec = await runProcess({
      file: iso.run.file,
      args: iso.run.args,
      env: iso.run.env,
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
      launcher: req.launcher,
      ready: req.ready,
      onLine: (line, stream) => {
        parser.onLine(line, stream);
        req.onLine(line, stream);
      },
    });
  } finally {
    await iso.run.cleanup();
  }

  const finished = parser.finish({ exitCode: exec.exitCode, signal: exec.signal });
  // what goes into state.json, context.json and the results: secret patterns redacted too
  const parsed = { ...finished, summary: redactText(finished.summary, known).text, error: finished.error ? { ...finished.error, message: redactText(finished.error.message, known).text } : null };
  if (parsed.error?.code === 'rate_limit' && !parsed.error.reset_at) {
    // the CLI named no reset time: wait the configured default rather than for a person
    parsed.error = { ...parsed.error, reset_at: new Date(Date.now() + config.agents.rateLimitDefaultWaitSec * 1000).toISOString(), message: `${parsed.error.message} (no reset time reported; waiting RATE_LIMIT_DEFAULT_WAIT_SEC=${config.agents.rateLimitDefaultWaitSec})` };
  }
  if (parsed.status === 'success' && parsed.warnings && parsed.warnings.length > 0) {
    // exit 0, yet its commands failed: if nothing changed either, the run did nothing (codex's trap)
    const status = await git(req.workspaceDir, ['status', '--porcelain'], { reject: false });
    if (status.exitCode === 0 && status.stdout.trim() === '') {
      parsed.status = 'failed';
      parsed.error = { code: 'tool_failed', message: `the agent reported success but changed nothing, and its command(s) failed: ${parsed.warnings.join('; ')}` };
    }
  }
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
