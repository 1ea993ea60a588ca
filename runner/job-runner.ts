/**
 * Runs one claimed job from its cursor until it finishes, parks, or is handed back.
 *
 * Invariants:
 * - A step attempt is counted (persisted in state.json) BEFORE its agent is spawned, and a step is
 *   finished only once its success is persisted: after a crash, finished steps are never re-run.
 * - Every attempt starts from its step's base commit (a retry never sees a failed attempt's edits).
 * - The job file moves only while this runner still holds the lease (claim id re-checked), so a
 *   runner that lost its lease never writes a terminal state over the new owner's.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { NormalizedJob, NormalizedStep } from '../contracts/index.ts';
import type { FsQueue } from '../fsqueue/queue.ts';
import type { Leases } from '../fsqueue/lease.ts';
import { cancelRequestPath, type QueueState } from '../fsqueue/states.ts';
import type { Config } from '../lib/config.ts';
import { errorMessage } from '../lib/errors.ts';
import { pathExists } from '../lib/fsutil.ts';
import type { Logger } from '../lib/logger.ts';
import { ensureAttemptDirs, runAttempt } from './agent-step.ts';
import { applyDecision, applyRetry, interruptedAttempt, park, type Action } from './apply.ts';
import { JobArtifacts } from './artifacts.ts';
import type { ReservationKey } from './budget-store.ts';
import { decideAfterAttempt } from './decide.ts';
import type { EventMap, EventName, RunnerEvents } from './events.ts';
import { recordCallback } from './callback-outbox.ts';
import { writeFinalArtifacts } from './finalize.ts';
import { projectOf, reserveForAttempt, settleAttempt, type Guards } from './guards.ts';
import { buildPrompt, readInputs, selectContext } from './inputs.ts';
import { buildStepResult } from './results.ts';
import { checkStepSecrets, type StepSecretsCheck } from './secrets-check.ts';
import { LINE_RULES, redactText, sensitiveValues } from './secrets.ts';
import { initialState, sessionsByAgent, stepState, updateStep, withHistory, type JobState, type StepError } from './state.ts';
import { commitAll, diff, diffStats, head as gitHead, isPlainWorkspace, preparePlainWorkspace, prepareWorkspace, resetTo, type WorkspaceInfo } from './workspace.ts';
import type { LauncherPool } from '../workers/launcher.ts';

export interface RunnerContext {
  config: Config;
  queue: FsQueue;
  leases: Leases;
  events: RunnerEvents;
  log: Logger;
  runnerId: string;
  now: () => Date;
  /** Budget gate and machine-wide concurrency slots (runner/guards.ts); absent = no checks. */
  guards?: Guards;
  /** Warm launchers (workers/launcher.ts); absent = every step spawns cold. */
  readonly launcher?: LauncherPool | undefined;
}

export interface Claim {
  jobId: string;
  claimId: string;
  /** Set when the advisory lock was taken over by someone else. */
  lost: boolean;
  /** User cancel (`orchestrator cancel`). */
  cancel: AbortController;
  /** Forced shutdown: stop now and hand the job back. */
  handback: AbortController;
  /** Graceful shutdown requested: hand back at the next step boundary. */
  draining: boolean;
  /**
   * Called once no agent will run again under this claim (the job is closing or being handed
   * back): its agent slot is free for the next job while this one writes its final artifacts.
   */
  onAgentsDone?: () => void;
}

export type JobRunOutcome = 'finished' | 'parked' | 'handed_back' | 'lease_lost';

// defined beside the queue states so that control operations need not load the runner
export { cancelRequestPath };

/**
 * How long an agent runs before its job's placeholder artifacts are written (JobArtifacts
 * startPlaceholders). Agents run for minutes, and from then on the tree is complete; a step that
 * ends sooner writes its real files instead of a placeholder and its replacement (two files, an
 * inode each, and a placeholder result validated against the schema, per file: bench/README.md).
 */
export const PLACEHOLDER_DELAY_MS = 200;

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });

export class JobExecution {
  private state!: JobState;
  private readonly art: JobArtifacts;
  /** The budget reservation of the attempt about to run (settled after it). */
  private reservation: ReservationKey | null = null;
  /** events.jsonl appends, in order (the secrets scan waits for them). */
  private appends: Promise<void> = Promise.resolve();
  private readonly iso = (): string => this.ctx.now().toISOString();
  /** WORKSPACE_MODE=plain: the job's directory (no git: no resets, commits or patches). */
  private plainWork: string | null = null;

  constructor(
    private readonly ctx: RunnerContext,
    private readonly job: NormalizedJob,
    private readonly claim: Claim,
  ) {
    this.art = new JobArtifacts(ctx.config.paths.artifactsRoot, job.job_id);
  }

  private async emit<K extends EventName>(name: K, data: EventMap[K]): Promise<void> {
    const ev = this.ctx.events.emit(name, data);
    const appended = this.appends.then(() => this.art.appendEvent(ev)).catch(() => undefined);
    this.appends = appended;
    await appended;
  }

  /** state.json, fsynced unless `durable: false` (only before the first attempt: that one is durable). */
  private async persist(opts: { durable?: boolean } = {}): Promise<void> {
    this.state = { ...this.state, updated_at: this.iso() };
    await this.art.writeState(this.state, opts);
  }

  /** Still ours? Re-read the lease right before any move of the job file. */
  private async fenced(): Promise<boolean> {
    if (this.claim.lost) return false;
    const lease = await this.ctx.leases.read(this.job.job_id).catch(() => undefined);
    if (lease?.claim_id !== this.claim.claimId) {
      this.claim.lost = true;
      return false;
    }
    return true;
  }

  private async cancelRequested(): Promise<boolean> {
    return this.claim.cancel.signal.aborted || (await pathExists(cancelRequestPath(this.ctx.config.paths.queueRoot, this.job.job_id)));
  }

  async run(queuedMs: number): Promise<JobRunOutcome> {
    const { job } = this;
    let existing = await this.art.readState().catch(() => undefined);
    // closed, yet in pending/: a job an operator moved back by hand (recovery completes a closing
    // it finds in running/, and every command writes the pending state before its move). Run it
    // again as `orchestrator retry` would, from the step it stopped at.
    if (existing?.finished_at) existing = applyRetry(job, existing, { by: 'the queue', note: 'moved back to pending by hand' }, this.iso()) ?? existing;
    this.state = existing ?? initialState(job, this.iso());
    this.state = withHistory(
      { ...this.state, claims: this.state.claims + 1, queue_state: 'running', status: 'running', started_at: this.state.started_at ?? this.iso(), waiting: null, owner: { runner_id: this.ctx.runnerId, pid: process.pid, host: this.ctx.config.host, claim_id: this.claim.claimId } },
      this.iso(),
      'claimed',
      undefined,
      `runner ${this.ctx.runnerId} (claim ${this.state.claims + 1})`,
    );
    // the workspace (a dozen inodes for a fresh repository) is made while the artifact tree is created
    const workspace = this.openWorkspace();
    workspace.catch(() => undefined); // awaited below; a failure there is the job's
    // not fsynced: nothing depends on the claim being on disk before the attempt is persisted (durably)
    await this.art.init(job, this.state, { durableState: false, deferPlaceholders: true });
    // different files: written side by side
    await Promise.all([
      this.art.appendLog(`${this.iso()} claimed by runner ${this.ctx.runnerId} pid ${process.pid} (claim ${this.state.claims})`),
      this.emit('job:claimed', { job_id: job.job_id, runner_id: this.ctx.runnerId, claim: this.state.claims, queued_ms: queuedMs }),
    ]);

    try {
      const made = await workspace;
      if (made && 'plain' in made) {
        this.plainWork = made.plain;
        await this.art.appendLog(`${this.iso()} workspace ${this.plainWork} (WORKSPACE_MODE=plain: no git, no patches)`);
      } else if (made) {
        const { ws, workdir } = made;
        this.state = { ...this.state, workspace: ws };
        await this.art.appendLog(`${this.iso()} workspace ${ws.path} (${ws.source === 'clone' ? `clone of ${workdir}` : 'fresh repository'}) base ${ws.base_commit}`);
        const nonGit = this.ctx.config.enableRealCli && ws.source === 'fresh' ? this.ctx.config.agents.nonGitWorkdirStatus : null;
        if (nonGit) return await this.nonGitWorkdir(workdir, nonGit);
      }
      // the workspace reaches state.json with the next write, which every path out of loop() makes
      // (the attempt's durable one before any agent runs); a crash before it finds the workspace
      // again by its base file (prepareWorkspace)
      return await this.loop();
    } catch (err) {
      if (this.claim.lost) return 'lease_lost';
      this.ctx.log.error({ err, job_id: job.job_id }, 'job crashed in the runner');
      this.state = applyDecision(job, this.state, this.state.cursor ?? '', { kind: 'finish', status: 'failed' }, this.iso()).state;
      this.state = { ...this.state, error: { code: 'E_INTERNAL', message: `runner error: ${errorMessage(err)}` } };
      return this.close('finish');
    }
  }

  /** The job's workspace, unless state.json already records one (a re-claim): plain or git. */
  private async openWorkspace(): Promise<{ plain: string } | { ws: WorkspaceInfo; workdir: string } | null> {
    if (this.state.workspace) return null;
    const wsRoot = this.ctx.config.paths.workspacesRoot;
    const jobId = this.job.job_id;
    const workdir = path.resolve(this.ctx.config.paths.home, this.job.workdir);
    const made: { plain: string } | { ws: WorkspaceInfo; workdir: string } = this.ctx.config.workspaceMode === 'plain' || (await isPlainWorkspace(wsRoot, jobId)) ? { plain: await preparePlainWorkspace(wsRoot, jobId) } : { ws: await prepareWorkspace(wsRoot, jobId, workdir), workdir };
    // the attempts' tmp/ and home/<agent>/, made here while the artifact tree is created rather than
    // between an attempt's record and its start
    await ensureAttemptDirs(path.dirname('plain' in made ? made.plain : made.ws.path), this.job.steps.map((s) => s.agent));
    return made;
  }

  private async loop(): Promise<JobRunOutcome> {
    const { job } = this;
    while (this.state.cursor) {
      if (this.claim.lost) return 'lease_lost';
      if (await this.cancelRequested()) return this.cancelled();
      if (this.claim.draining || this.claim.handback.signal.aborted) return this.handBack('shutdown');
      const step = job.steps.find((s) => s.step_id === this.state.cursor);
      if (!step) throw new Error(`cursor points at unknown step ${this.state.cursor}`);
      let st = stepState(this.state, step.step_id);

      if (st.status === 'running') {
        // an attempt was interrupted without recovery having seen it: count it as a crash
        this.state = interruptedAttempt(this.state, step.step_id, this.iso());
        const d = decideAfterAttempt(job, this.state, step.step_id, { status: 'failed', errorCode: 'crash' }, { maxRetryBackoffSec: this.ctx.config.maxRetryBackoffSec });
        const { state, action } = applyDecision(job, this.state, step.step_id, d, this.iso());
        this.state = state;
        await this.persist();
        if (action !== 'continue' && action !== 'retry') return this.close(action);
        continue;
      }

      const sameVisit = st.status === 'retryable';
      if (!sameVisit && step.requires_approval && !st.gate_approved) {
        this.state = park(this.state, 'gate', step.step_id, this.iso(), null, `step ${step.step_id} has an approval gate`);
        return this.close('park');
      }
      const held = await this.guardStep(step, st.attempts + 1);
      if (held) return held;
      if (!sameVisit) {
        const head = this.plainWork ? null : (this.state.workspace?.head ?? this.state.workspace?.base_commit ?? (await gitHead(this.workDir())));
        this.state = updateStep(this.state, step.step_id, { visits: st.visits + 1, visit_attempts: 0, base_commit: head, tolerated: false, gate_approved: st.gate_approved });
        st = stepState(this.state, step.step_id);
      }

      const action = await this.attempt(step);
      if (action === 'retry') {
        const failed = stepState(this.state, step.step_id);
        const d = decideAfterAttempt(job, this.state, step.step_id, { status: 'failed' }, { maxRetryBackoffSec: this.ctx.config.maxRetryBackoffSec });
        const delay = d.kind === 'retry' ? d.delayMs : 0;
        await this.emit('step:retry', { job_id: job.job_id, step_id: step.step_id, attempt: failed.attempts, delay_ms: delay, error_code: failed.error?.code ?? null });
        await sleep(delay, AbortSignal.any([this.claim.cancel.signal, this.claim.handback.signal]));
        continue;
      }
      if (action === 'continue') continue;
      if (action === 'handed_back') return this.handBack('shutdown');
      if (action === 'lease_lost') return 'lease_lost';
      return this.close(action);
    }
    return this.close('finish');
  }

  /** The whole job's change so far (base commit → last step commit); cached until the next change. */
  private jobPatch: string | undefined;
  private async computeJobPatch(): Promise<string> {
    const ws = this.state.workspace;
    const patch = ws && ws.head && ws.head !== ws.base_commit ? await diff(ws.path, ws.base_commit, ws.head) : '';
    // an agent may have written a known secret value (its key, SENSITIVE_ENV_VARS) into a file
    this.jobPatch = patch ? redactText(patch, sensitiveValues(this.ctx.config.secrets.sensitiveEnvVars, process.env)).text : '';
    return this.jobPatch;
  }

  private workDir(): string {
    if (this.plainWork) return this.plainWork;
    if (!this.state.workspace) throw new Error('no workspace');
    return this.state.workspace.path;
  }

  /** One attempt of `step`; returns what the loop does next. */
  private async attempt(step: NormalizedStep): Promise<Action | 'handed_back' | 'lease_lost'> {
    const { job, ctx } = this;
    const before = stepState(this.state, step.step_id);
    const attempt = before.attempts + 1;
    const startedAt = this.iso();
    const t0 = performance.now();
    this.state = updateStep(this.state, step.step_id, { status: 'running', attempts: attempt, visit_attempts: before.visit_attempts + 1, started_at: startedAt, finished_at: null, error: null });
    this.state = withHistory(this.state, startedAt, 'step:started', step.step_id, `attempt ${attempt}`);
    // durable before the step's process starts (the executor waits for it there), written while the
    // attempt is prepared: a crash or power loss after the start always finds the attempt counted
    const recorded = this.persist();
    recorded.catch(() => undefined); // awaited by the executor, and below
    const plain = this.plainWork !== null;
    const resetWorkspace = async (): Promise<string> => {
      const base = plain ? '' : (before.base_commit ?? (await gitHead(this.workDir())));
      if (!plain && (attempt > 1 || this.state.claims > 1)) await resetTo(this.workDir(), base);
      return base;
    };
    // independent files (and the workspace): side by side, each a thread-pool round trip
    const [, , base, inputs, context] = await Promise.all([
      this.emit('step:started', { job_id: job.job_id, step_id: step.step_id, agent: step.agent, attempt }),
      this.art.appendLog(`${startedAt} step ${step.step_id} (${step.agent}/${step.role}) attempt ${attempt} started`),
      resetWorkspace(),
      readInputs(this.art.dir, step, { maxFiles: ctx.config.maxInputArtifactsFiles, maxFileChars: ctx.config.maxInputArtifactChars, maxTotalChars: ctx.config.maxInputArtifactsChars }),
      this.art.readContext(job, startedAt),
    ]);
    const prompt = buildPrompt(job, step, inputs, selectContext(job, context.window));
    const resume = before.visit_attempts > 0 && before.session_id ? before.session_id : step.resume_session ? (context.sessions[step.agent] ?? null) : null;

    const runId = `${job.job_id}.${step.step_id}.${attempt}.${randomBytes(4).toString('hex')}`;
    const logFile = this.art.stepFile(step.step_id, 'logs.txt');
    await this.art.appendStepLog(step.step_id, `\n===== attempt ${attempt} (${startedAt}) =====\n`);
    let eventLines = 0;
    const signal = AbortSignal.any([this.claim.cancel.signal, this.claim.handback.signal]);
    const cancelPoll = setInterval(() => {
      void this.cancelRequested().then((c) => { if (c) this.claim.cancel.abort(); });
    }, 250);
    let result;
    let placeholders: NodeJS.Timeout | undefined;
    try {
      result = await runAttempt({
        config: ctx.config,
        jobId: job.job_id,
        step,
        policy: job.policy,
        prompt,
        attempt,
        workspaceDir: this.workDir(),
        jobWorkspaceRoot: path.dirname(this.workDir()),
        resumeSessionId: resume,
        logFile,
        runId,
        signal,
        launcher: ctx.launcher,
        ready: recorded,
        onSpawn: (pid) => {
          placeholders ??= setTimeout(() => this.art.startPlaceholders(), PLACEHOLDER_DELAY_MS);
          void this.recordRun(runId, pid, step.step_id, attempt);
        },
        onLine: (line, stream) => {
          if (eventLines++ < ctx.config.maxEventOutputLines) {
            // live subscribers (SSE) get the line with secret patterns already redacted
            const safe = redactText(line.length > 2000 ? line.slice(0, 2200) : line, [], LINE_RULES).text;
            void this.emit('agent:output', { job_id: job.job_id, step_id: step.step_id, stream, line: safe.length > 2000 ? safe.slice(0, 2000) + '…' : safe });
          }
        },
      });
    } finally {
      clearInterval(cancelPoll);
      clearTimeout(placeholders);
    }
    await recorded; // a step refused before its start never waited for it
    this.settleBudget(result.costUsd);
    if (this.claim.lost) return 'lease_lost';
    if (result.status === 'cancelled' && this.claim.handback.signal.aborted && !this.claim.cancel.signal.aborted) {
      // forced shutdown: this attempt does not count against the step's retries
      this.state = updateStep(this.state, step.step_id, { status: 'retryable', attempts: attempt, visit_attempts: before.visit_attempts, error: null });
      await this.persist();
      await this.checkSecrets(step, result.redactions);
      return 'handed_back';
    }

    const { head, changed } = plain ? { head: '', changed: false } : await commitAll(this.workDir(), `orchestrator: ${step.step_id} attempt ${attempt} (${result.status})`, base);
    const patch = changed ? await diff(this.workDir(), base, head) : '';
    if (this.state.workspace) this.state = { ...this.state, workspace: { ...this.state.workspace, head } };
    const stats = diffStats(patch);
    const finishedAt = this.iso();
    const durationMs = Math.round(performance.now() - t0);
    let error: StepError | null = result.error ? { code: result.error.code, message: result.error.message, ...(result.error.reset_at || result.error.http_status ? { details: { ...(result.error.reset_at ? { reset_at: result.error.reset_at } : {}), ...(result.error.http_status ? { http_status: result.error.http_status } : {}) } } : {}) } : null;
    this.state = updateStep(this.state, step.step_id, {
      status: result.status,
      finished_at: finishedAt,
      head_commit: plain ? null : head,
      base_commit: plain ? null : base,
      duration_ms: durationMs,
      cost_usd: before.cost_usd + result.costUsd,
      tokens_in: before.tokens_in + result.tokensIn,
      tokens_out: before.tokens_out + result.tokensOut,
      // a session that never got a model answer (an API error on the first call) cannot be resumed (gemini: exit 42)
      session_id: result.sessionId && (result.tokensIn > 0 || result.status === 'success') ? result.sessionId : before.session_id,
      summary: result.summary,
      error,
    });
    await this.art.writeStepPatch(step.step_id, patch);
    const secrets = await this.checkSecrets(step, result.redactions);
    if (secrets.error) {
      result = { ...result, status: secrets.status, error: { code: secrets.error.code, message: secrets.error.message }, ...(secrets.status === 'needs_human' ? { summary: secrets.error.message } : {}) };
      error = secrets.error;
      this.state = updateStep(this.state, step.step_id, { status: secrets.status, error });
    }
    const stepResult = buildStepResult(job, step.step_id, this.state, {
      metrics: {
        duration_ms: durationMs,
        agent_duration_ms: result.exec.durationMs,
        tokens_cached: result.tokensCached,
        turns: result.turns,
        files_changed: stats.files.length,
        lines_added: stats.added,
        lines_removed: stats.removed,
        output_bytes: result.exec.outputBytes,
        output_truncated: result.exec.outputTruncated,
      },
      files_changed: stats.files,
      inputs: { files: inputs.files.map((f) => f.path), truncated: inputs.truncated, notes: inputs.notes },
      secrets_check: secrets.check,
      change_status: plain ? 'unknown' : stats.files.length > 0 ? 'changed' : 'unchanged',
    });
    await this.art.writeStepResult(stepResult, job.goal);
    await this.emit('step:finished', {
      job_id: job.job_id, step_id: step.step_id, agent: step.agent, attempt, status: result.status, duration_ms: durationMs,
      agent_duration_ms: result.exec.durationMs, cost_usd: result.costUsd, tokens_in: result.tokensIn, tokens_out: result.tokensOut, error_code: error?.code ?? null,
    });
    await this.art.appendLog(`${finishedAt} step ${step.step_id} attempt ${attempt} ${result.status}${error ? ` (${error.code}: ${error.message})` : ''} in ${durationMs} ms`);

    const decision = decideAfterAttempt(job, this.state, step.step_id, { status: result.status, errorCode: result.error?.code, resumeAfter: result.error?.reset_at ?? null }, { maxRetryBackoffSec: ctx.config.maxRetryBackoffSec });
    if (decision.kind === 'park' && decision.reason === 'rate_limited') {
      // a rate limit does not burn a retry: the same visit resumes after the reset, same session
      this.state = updateStep(this.state, step.step_id, { visit_attempts: before.visit_attempts });
    }
    const waitMessage = decision.kind === 'park' ? (decision.reason === 'needs_human' ? result.summary : `step ${step.step_id} ${result.status}${error ? `: ${error.message}` : ''}`) : '';
    const applied = applyDecision(job, this.state, step.step_id, decision, finishedAt, waitMessage);
    this.state = applied.state;
    if (decision.kind === 'park' && decision.reason === 'rate_limited') this.state = updateStep(this.state, step.step_id, { status: 'retryable' });
    // finish/park: close() persists this state (with its queue state) right after, fenced; one
    // durable write instead of two
    if (applied.action !== 'finish' && applied.action !== 'park') await this.persist();
    await this.updateContext(step, result.summary, result.status);
    if (applied.action === 'finish' || applied.action === 'park') {
      // close() writes the job's summary next (writeFinalArtifacts), from a fresh patch if this step changed it
      if (changed) this.jobPatch = undefined;
    } else {
      await this.art.writeJobSummary(job, this.state, changed || this.jobPatch === undefined ? await this.computeJobPatch() : this.jobPatch);
    }
    return applied.action;
  }

  /** Concurrency slot for this step's agent, then the budget: nothing runs unless both say yes. */
  private async guardStep(step: NormalizedStep, attempt: number): Promise<JobRunOutcome | null> {
    const g = this.ctx.guards;
    if (!g) return null;
    try {
      if (g.slots.enabled) {
        const slot = g.slots.acquire({ jobId: this.job.job_id, agent: step.agent, project: projectOf(this.job) }, this.iso());
        if (!slot.ok) {
          await this.art.appendLog(`${this.iso()} step ${step.step_id} waits: ${slot.reason}`);
          return this.handBack(`concurrency: ${slot.reason}`);
        }
      }
      const verdict = reserveForAttempt(g.budget, this.ctx.config, { job: this.job, step, state: this.state, attempt, now: this.ctx.now(), runnerId: this.ctx.runnerId });
      if (!verdict.ok) {
        await this.art.appendLog(`${this.iso()} step ${step.step_id} not started: ${verdict.message}`);
        this.state = park(this.state, 'budget_exceeded', step.step_id, this.iso(), verdict.resumeAfter, verdict.message);
        return this.close('park');
      }
      if (verdict.overBudget) await this.art.appendLog(`${this.iso()} step ${step.step_id} runs over budget (approved with --over-budget)`);
      this.reservation = verdict.key;
      return null;
    } catch (err) {
      this.ctx.log.error({ job_id: this.job.job_id, err: errorMessage(err) }, 'budget/concurrency check failed; handing the job back');
      return this.handBack(`state database unavailable: ${errorMessage(err)}`);
    }
  }

  private settleBudget(costUsd: number): void {
    const key = this.reservation;
    this.reservation = null;
    if (!key || !this.ctx.guards) return;
    try {
      settleAttempt(this.ctx.guards.budget, key, costUsd, this.ctx.now());
    } catch (err) {
      // the reservation keeps counting at its estimate: never under-counts
      this.ctx.log.error({ job_id: this.job.job_id, err: errorMessage(err) }, 'budget settlement failed; the reservation stays');
    }
  }

  /** Secrets scan of the step's artifacts (runner/secrets-check.ts), once its event appends landed. */
  private async checkSecrets(step: NormalizedStep, redactions: number): Promise<StepSecretsCheck> {
    await this.appends;
    const check = await checkStepSecrets({ art: this.art, stepId: step.step_id, config: this.ctx.config, redactions });
    if (check.error) await this.art.appendLog(`${this.iso()} step ${step.step_id}: ${check.error.message}`);
    return check;
  }

  private async recordRun(runId: string, pgid: number, stepId: string, attempt: number): Promise<void> {
    const lease = await this.ctx.leases.read(this.job.job_id).catch(() => undefined);
    if (!lease || lease.claim_id !== this.claim.claimId) return;
    await this.ctx.leases.write({ ...lease, runs: [...lease.runs.slice(-9), { run_id: runId, pgid, step_id: stepId, attempt }] });
  }

  private async updateContext(step: NormalizedStep, summary: string, status: string): Promise<void> {
    const ctx = await this.art.readContext(this.job, this.iso());
    const entry = { role: step.role, agent: step.agent, step_id: step.step_id, content: (status === 'success' ? '' : `[${status}] `) + (summary || '(no summary)').slice(0, 4000) };
    const window = [...ctx.window.filter((e) => e.step_id !== step.step_id || !e.agent), entry];
    await this.art.writeContext({ ...ctx, updated_at: this.iso(), sessions: { ...ctx.sessions, ...sessionsByAgent(this.state) }, window });
  }

  /** NON_GIT_WORKDIR_STATUS (real mode): a workdir outside git parks the job for a person, or fails it; nothing runs. */
  private async nonGitWorkdir(workdir: string, status: 'needs_human' | 'failed'): Promise<JobRunOutcome> {
    const message = `workdir ${workdir} is not a git repository: real agents would work in a fresh, empty repository (NON_GIT_WORKDIR_STATUS=${status})`;
    await this.art.appendLog(`${this.iso()} ${message}`);
    if (status === 'needs_human') {
      this.state = park(this.state, 'needs_human', this.state.cursor, this.iso(), null, `${message}; approve to run it there anyway`);
      return this.close('park');
    }
    this.state = applyDecision(this.job, this.state, this.state.cursor ?? '', { kind: 'finish', status: 'failed' }, this.iso()).state;
    this.state = { ...this.state, error: { code: 'E_PREFLIGHT', message } };
    return this.close('finish');
  }

  private async cancelled(): Promise<JobRunOutcome> {
    this.state = applyDecision(this.job, this.state, this.state.cursor ?? '', { kind: 'finish', status: 'cancelled' }, this.iso()).state;
    this.state = { ...this.state, error: { code: 'E_CANCELLED', message: 'cancelled by request' } };
    return this.close('finish');
  }

  private async handBack(reason: string): Promise<JobRunOutcome> {
    this.claim.onAgentsDone?.();
    // the next owner must not meet this claim's placeholders still landing
    await this.art.settled().catch(() => undefined);
    if (!(await this.fenced())) return 'lease_lost';
    this.state = withHistory({ ...this.state, queue_state: 'pending', status: 'pending', owner: null }, this.iso(), 'handed_back', undefined, reason);
    await this.persist();
    await this.ctx.queue.move(this.job.job_id, 'running', 'pending');
    await this.ctx.leases.remove(this.job.job_id);
    await this.art.appendLog(`${this.iso()} handed back to pending (${reason})`);
    await this.emit('job:handed_back', { job_id: this.job.job_id, reason });
    return 'handed_back';
  }

  /** Park or finish: write the artifacts, then move the job file (fenced). */
  private async close(action: Action): Promise<JobRunOutcome> {
    this.claim.onAgentsDone?.();
    const to: QueueState = action === 'park' ? 'awaiting_approval' : this.state.status === 'success' ? 'done' : 'failed';
    if (!(await this.fenced())) return 'lease_lost';
    this.state = { ...this.state, queue_state: to };
    await this.persist();
    const jobPatch = this.state.workspace ? (this.jobPatch ?? (await this.computeJobPatch())) : null;
    await writeFinalArtifacts(this.art, this.job, this.state, jobPatch);
    if (!(await this.fenced())) return 'lease_lost';
    // the completion callback is on disk before the move: a runner that dies in between leaves it
    // for the next dispatcher instead of losing it (runner/callback-outbox.ts)
    await recordCallback(this.ctx.config, this.job, this.state, this.ctx.now());
    const moved = await this.ctx.queue.move(this.job.job_id, 'running', to);
    if (moved === 'lost') {
      this.claim.lost = true;
      return 'lease_lost';
    }
    // the event first (a reader that sees the job in its new state finds it in events.jsonl a
    // moment later at most), then the lease
    let outcome: JobRunOutcome;
    if (action === 'park' && this.state.waiting) {
      const w = this.state.waiting;
      await this.emit('job:parked', { job_id: this.job.job_id, reason: w.reason, step_id: w.step_id, resume_after: w.resume_after, message: w.message });
      outcome = 'parked';
    } else {
      const started = this.state.started_at ? Date.parse(this.state.started_at) : Date.now();
      const cost = this.state.steps.reduce((a, s) => a + s.cost_usd, 0);
      await this.emit('job:finished', { job_id: this.job.job_id, status: this.state.status, queue_state: to, duration_ms: Math.max(0, Date.parse(this.state.finished_at ?? this.iso()) - started), cost_usd: cost });
      outcome = 'finished';
    }
    await this.ctx.leases.remove(this.job.job_id);
    return outcome;
  }
}
