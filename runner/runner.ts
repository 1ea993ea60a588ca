/**
 * The always-on runner: claims pending jobs (priority, then FIFO) up to RUNNER_CONCURRENCY at a
 * time, runs each in its own JobExecution, heartbeats, recovers jobs of dead runners, and resumes
 * parked jobs whose resume time has come. `createRunner()` is the public factory; the CLI's
 * `runner` and `serve` commands are thin shells over it.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { createQueue, type FsQueue } from '../fsqueue/queue.ts';
import { Leases } from '../fsqueue/lease.ts';
import type { PendingEntry } from '../fsqueue/pending-index.ts';
import { loadConfig, type Config } from '../lib/config.ts';
import { errnoCode, errorMessage } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import { pidAlive } from '../lib/proc.ts';
import { applyApproval } from './apply.ts';
import { JobArtifacts } from './artifacts.ts';
import { RunnerEvents } from './events.ts';
import { holderDeadCheck, openGuards, slotNeedOfPending } from './guards.ts';
import { cancelRequestPath, JobExecution, type Claim, type JobRunOutcome } from './job-runner.ts';
import { recoverDeadJobs } from './recovery.ts';
import { PendingScanner } from './scanner.ts';
import { cleanupSpares, dropSpares, warmSpare } from './workspace.ts';
import { LauncherPool } from '../workers/launcher.ts';

export interface RunnerOptions {
  config?: Config;
  logger?: Logger;
  events?: RunnerEvents;
  runnerId?: string;
  now?: () => Date;
  /** Watch pending/ for instant wake-ups (default true); the periodic scan runs regardless. */
  watch?: boolean;
}

export interface Runner {
  readonly id: string;
  readonly events: RunnerEvents;
  readonly queue: FsQueue;
  start(): Promise<void>;
  /** Graceful: stop claiming, let running steps finish (up to the grace), hand back the rest. */
  stop(opts?: { force?: boolean }): Promise<void>;
  /** Resolves when nothing is running and nothing claimable is pending. */
  whenIdle(): Promise<void>;
  activeJobs(): string[];
}

export function createRunner(opts: RunnerOptions = {}): Runner {
  const config = opts.config ?? loadConfig();
  const log = opts.logger ?? silentLogger();
  const events = opts.events ?? new RunnerEvents();
  const now = opts.now ?? (() => new Date());
  const id = opts.runnerId ?? `runner-${config.host}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const queue = createQueue(config.paths.queueRoot);
  const leases = new Leases(config.paths.queueRoot);
  const active = new Map<string, { claim: Claim; done: Promise<JobRunOutcome> }>();
  /**
   * Claims that may still run an agent: RUNNER_CONCURRENCY bounds these. A job that is closing
   * (final artifacts, the move to done/) or being handed back stays in `active` but leaves this
   * set, so the next job's claim and start-up overlap its last writes.
   */
  const holding = new Set<string>();
  // budget gate + machine-wide concurrency slots, one SQLite connection per runner
  const guards = openGuards(config, { runnerId: id, pid: process.pid, host: config.host });
  const holderDead = holderDeadCheck(leases, config);
  // steps start in launchers spawned ahead of time: no fork of the runner between claim and start
  let launchers: LauncherPool | undefined;
  const ctx = { config, queue, leases, events, log, runnerId: id, now, guards, get launcher() { return launchers; } };
  const startedAt = now().toISOString();
  let stopping = false;
  let started = false;
  let filling = false;
  let refill = false;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let maintenanceTimer: NodeJS.Timeout | undefined;
  const idleWaiters: Array<() => void> = [];

  const scanner = new PendingScanner(queue, log, () => fill(), (file, reason) => {
    events.emit('job:quarantined', { file, reason });
  });

  let stopped = false;
  async function heartbeat(): Promise<void> {
    if (stopped) return;
    await leases.heartbeat({ runner_id: id, pid: process.pid, host: config.host, started_at: startedAt, heartbeat_at: now().toISOString(), concurrency: config.runnerConcurrency, running: [...active.keys()] }).catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'heartbeat write failed'));
  }

  /**
   * The heartbeat's `running` list after a job ends: one rewrite per 250 ms at most (each is an
   * inode; a drain of short jobs rewrote it after every one). The periodic heartbeat is unchanged.
   */
  let heartbeatSoon: NodeJS.Timeout | undefined;
  function scheduleHeartbeat(): void {
    heartbeatSoon ??= setTimeout(() => {
      heartbeatSoon = undefined;
      void heartbeat();
    }, 250);
  }

  function checkIdle(): void {
    if (active.size === 0 && scanner.index.size === 0) for (const w of idleWaiters.splice(0)) w();
  }

  function fill(): void {
    if (filling) {
      refill = true;
      return;
    }
    filling = true;
    // jobs over a concurrency limit are skipped, not waited for; they go back into the index after
    // this pass (so the pass cannot spin on them) and are tried again on the next fill
    const skipped: PendingEntry[] = [];
    void (async () => {
      try {
        do {
          refill = false;
          while (!stopping && holding.size < config.runnerConcurrency) {
            const entry = scanner.index.pop();
            if (!entry) break;
            if (active.has(entry.id)) {
              // handed back by a claim of ours that is still finishing: the next pass takes it
              skipped.push(entry);
              continue;
            }
            if ((await tryClaim(entry.id, entry.submittedAt)) === 'blocked') skipped.push(entry);
          }
        } while (refill && !stopping);
      } finally {
        for (const e of skipped) scanner.index.add(e);
        filling = false;
        launchers?.refill();
        checkIdle();
      }
    })();
  }

  /** Slots first (a job over a limit is 'blocked' and stays pending), then the claim rename. */
  async function takeSlots(jobId: string): Promise<'ok' | 'blocked' | 'gone'> {
    if (!guards.slots.enabled) return 'ok';
    const need = await slotNeedOfPending(queue, config.paths.artifactsRoot, jobId);
    if (!need) return 'gone';
    try {
      let got = guards.slots.acquire(need, now().toISOString());
      if (!got.ok && (await guards.slots.reclaimDead(holderDead)) > 0) got = guards.slots.acquire(need, now().toISOString());
      if (got.ok) return 'ok';
      log.debug({ job_id: jobId, reason: got.reason }, 'job stays pending: concurrency limit');
    } catch (err) {
      log.warn({ job_id: jobId, err: errorMessage(err) }, 'concurrency slots unavailable; job stays pending');
    }
    return 'blocked';
  }

  async function tryClaim(jobId: string, submittedAt: number): Promise<'claimed' | 'lost' | 'blocked'> {
    const slots = await takeSlots(jobId);
    if (slots !== 'ok') return slots === 'gone' ? 'lost' : 'blocked';
    const moved = await queue.move(jobId, 'pending', 'running', { durable: false }).catch((err: unknown) => {
      log.error({ job_id: jobId, err: errorMessage(err) }, 'claim failed');
      return 'lost' as const;
    });
    if (moved === 'lost') {
      releaseSlots(jobId);
      return 'lost'; // another runner won: normal
    }
    const freeSlot = (): void => {
      if (!holding.delete(jobId)) return;
      releaseSlots(jobId);
      fill();
    };
    const claim: Claim = { jobId, claimId: randomBytes(8).toString('hex'), lost: false, cancel: new AbortController(), handback: new AbortController(), draining: false, onAgentsDone: freeSlot };
    holding.add(jobId);
    // the lease is written alongside the lock and the job's re-read (runClaimed): all three before
    // anything reads the lease (fencing, the record of a spawned run)
    const leased = leases.write({ job_id: jobId, claim_id: claim.claimId, runner_id: id, pid: process.pid, host: config.host, claimed_at: now().toISOString(), runs: [] });
    const done = runClaimed(claim, submittedAt, leased);
    active.set(jobId, { claim, done });
    void done.finally(() => {
      holding.delete(jobId);
      releaseSlots(jobId);
      active.delete(jobId);
      scheduleHeartbeat();
      fill();
    });
    return 'claimed';
  }

  function releaseSlots(jobId: string): void {
    if (!guards.slots.enabled) return;
    try {
      guards.slots.release(jobId);
    } catch (err) {
      // a row left behind is reclaimed once this runner is gone; until then it holds a slot
      log.warn({ job_id: jobId, err: errorMessage(err) }, 'could not release concurrency slots');
    }
  }

  async function takeLock(jobId: string, claim: Claim): Promise<() => Promise<void>> {
    const opts = {
      staleMs: config.leaseStaleMs,
      updateMs: config.heartbeatMs,
      onCompromised: (err: Error): void => {
        log.error({ job_id: jobId, err: err.message }, 'lease lost: another process took over this job');
        claim.lost = true;
        events.emit('lease:lost', { job_id: jobId, reason: err.message });
        claim.handback.abort();
      },
    };
    for (let i = 0; ; i++) {
      try {
        return await leases.lock(jobId, opts);
      } catch (err) {
        if (errnoCode(err) !== 'ELOCKED' || i >= 20) {
          // the job file is ours (we won the rename); a leftover lock of a dead owner must not block it
          await leases.forceUnlock(jobId);
          return await leases.lock(jobId, opts);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async function runClaimed(claim: Claim, submittedAt: number, leased: Promise<void>): Promise<JobRunOutcome> {
    const jobId = claim.jobId;
    let release: (() => Promise<void>) | undefined;
    try {
      // the advisory lock guards nothing the read or the lease write does: all at once (and all
      // settled, so a lock taken while another failed is still released below)
      const [lock, reading, lease] = await Promise.allSettled([takeLock(jobId, claim), queue.readFile(queue.pathOf('running', jobId)), leased]);
      if (lock.status === 'rejected') throw lock.reason;
      release = lock.value;
      if (lease.status === 'rejected') throw lease.reason;
      if (reading.status === 'rejected') throw reading.reason;
      const read = reading.value;
      if (!read.ok) {
        await queue.quarantine('running', `${jobId}.json`, read.reason);
        events.emit('job:quarantined', { file: `${jobId}.json`, reason: read.reason });
        await leases.remove(jobId);
        return 'finished';
      }
      const exec = new JobExecution(ctx, read.job, claim);
      const outcome = await exec.run(Math.max(0, now().getTime() - submittedAt));
      if (outcome === 'finished') await fsp.rm(cancelRequestPath(config.paths.queueRoot, jobId), { force: true });
      return outcome;
    } catch (err) {
      log.error({ job_id: jobId, err: errorMessage(err) }, 'unexpected runner error; the job stays in running/ for recovery');
      return 'lease_lost';
    } finally {
      if (release && !claim.lost) await release();
    }
  }

  /** Resume parked jobs whose resume time (budget reset, rate-limit reset) has passed. */
  async function resumeDue(): Promise<void> {
    for (const jobId of await queue.list('awaiting_approval').catch(() => [] as string[])) {
      const art = new JobArtifacts(config.paths.artifactsRoot, jobId);
      const state = await art.readState().catch(() => undefined);
      const after = state?.waiting?.resume_after;
      if (!state || !after || Date.parse(after) > now().getTime()) continue;
      const got = await queue.get(jobId).catch(() => undefined);
      if (!got || got.state !== 'awaiting_approval') continue;
      const resumed = applyApproval(got.job, { ...state, approvals: state.approvals }, { by: `timer (${state.waiting?.reason})`, note: `resume time ${after} reached` }, now().toISOString());
      await art.writeState(resumed);
      if ((await queue.move(jobId, 'awaiting_approval', 'pending')) === 'moved') log.info({ job_id: jobId }, 'parked job resumed by its timer');
    }
  }

  async function maintenance(): Promise<void> {
    try {
      await recoverDeadJobs({ config, queue, leases, events, log, actor: id, now, active: new Set(active.keys()) });
      if (guards.slots.enabled) await guards.slots.reclaimDead(holderDead);
      await resumeDue();
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'maintenance pass failed');
    }
  }

  return {
    id,
    events,
    queue,
    activeJobs: () => [...active.keys()],
    async start() {
      if (started) return;
      started = true;
      await queue.init();
      await leases.init();
      await fsp.mkdir(config.paths.artifactsRoot, { recursive: true });
      await fsp.mkdir(config.paths.workspacesRoot, { recursive: true });
      if (config.workspaceMode === 'git') {
        await cleanupSpares(config.paths.workspacesRoot, pidAlive);
        warmSpare(config.paths.workspacesRoot);
      }
      await heartbeat();
      heartbeatTimer = setInterval(() => void heartbeat(), config.heartbeatMs);
      await maintenance();
      maintenanceTimer = setInterval(() => void maintenance(), Math.max(config.scanIntervalMs, 1000));
      // refilled only while no job waits: under a backlog, steps start cold (docs/ARCHITECTURE.md)
      if (config.warmLaunchers) launchers = new LauncherPool(config.runnerConcurrency, () => scanner.index.size > 0);
      await scanner.start(config.scanIntervalMs, opts.watch ?? true);
      log.info({ runner_id: id, concurrency: config.runnerConcurrency, queue: config.paths.queueRoot }, 'runner started');
    },
    async stop(stopOpts = {}) {
      stopping = true;
      for (const { claim } of active.values()) {
        claim.draining = true;
        if (stopOpts.force) claim.handback.abort();
      }
      const all = Promise.all([...active.values()].map((a) => a.done));
      if (!stopOpts.force && active.size > 0) {
        const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), config.shutdownGraceMs).unref());
        if ((await Promise.race([all.then(() => 'done' as const), timer])) === 'timeout') {
          for (const { claim } of active.values()) claim.handback.abort();
        }
      }
      await all;
      if (heartbeatTimer) clearInterval(heartbeatTimer);
      if (heartbeatSoon) clearTimeout(heartbeatSoon);
      if (maintenanceTimer) clearInterval(maintenanceTimer);
      await scanner.close();
      await launchers?.close();
      try {
        if (guards.slots.enabled && guards.slots.db.open) guards.slots.releaseAll();
      } catch (err) {
        log.warn({ err: errorMessage(err) }, 'could not release concurrency slots at stop; they are reclaimed once this runner is gone');
      }
      guards.close();
      await dropSpares(config.paths.workspacesRoot).catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'could not remove the spare workspace'));
      stopped = true;
      await leases.removeHeartbeat(id);
      for (const w of idleWaiters.splice(0)) w();
      log.info({ runner_id: id }, 'runner stopped');
    },
    whenIdle() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        checkIdle();
      });
    },
  };
}
