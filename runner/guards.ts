/**
 * What must say yes before an agent runs: the budget gate (runner/budget.ts + budget-store.ts) and
 * the machine-wide concurrency slots (runner/concurrency.ts). The runner opens one Guards per
 * process (one SQLite connection); JobExecution and the claim loop call the small functions below,
 * so their own code only gains a few hook lines.
 */
import type { NormalizedJob, NormalizedStep } from '../contracts/index.ts';
import type { FsQueue } from '../fsqueue/queue.ts';
import { leaseOwnerDead, type Leases } from '../fsqueue/lease.ts';
import type { Config } from '../lib/config.ts';
import { pidAlive } from '../lib/proc.ts';
import { JobArtifacts } from './artifacts.ts';
import { applicableLimits, dayWindow, describeDenial, NO_PROJECT, overBudgetApproved, reserveEstimateMicros, toMicros, type Denial } from './budget.ts';
import { BudgetStore, type ReservationKey } from './budget-store.ts';
import { SlotStore, type SlotHolder, type SlotNeed } from './concurrency.ts';
import { openStateDb } from './state-db.ts';
import type { JobState } from './state.ts';

export interface Guards {
  budget: BudgetStore;
  slots: SlotStore;
  close(): void;
}

export function openGuards(config: Config, holder: SlotHolder): Guards {
  const db = openStateDb(config.paths.stateDbPath);
  return {
    budget: new BudgetStore(db),
    slots: new SlotStore(db, holder, config.concurrency),
    close: () => {
      if (db.open) db.close();
    },
  };
}

export function projectOf(job: Pick<NormalizedJob, 'project_id'>): string {
  return job.project_id ?? NO_PROJECT;
}

// ---------------------------------------------------------------------------------------------
// Budget

export type BudgetVerdict =
  | { ok: true; key: ReservationKey | null; overBudget: boolean }
  | { ok: false; denial: Denial; message: string; resumeAfter: string | null };

/**
 * Reserve one call for this attempt, or say why not. `command` steps are not agent calls and
 * are not counted. Idempotent per (job, step, attempt).
 */
export function reserveForAttempt(
  budget: BudgetStore,
  config: Config,
  req: { job: NormalizedJob; step: NormalizedStep; state: JobState; attempt: number; now: Date; runnerId: string },
): BudgetVerdict {
  const { job, step } = req;
  if (step.agent === 'command') return { ok: true, key: null, overBudget: false };
  const window = dayWindow(req.now, config.budget.tz);
  const project = projectOf(job);
  const limits = applicableLimits(config.budget, { agent: step.agent, project, jobId: job.job_id, jobMaxUsd: job.policy.max_cost_usd });
  const estimate = reserveEstimateMicros(config.budget, step.agent);
  const key: ReservationKey = { jobId: job.job_id, stepId: step.step_id, attempt: req.attempt };
  const overBudget = overBudgetApproved(req.state);
  const res = budget.reserve({ key, agent: step.agent, project, day: window.day, estimateMicros: estimate, limits, overBudget, runnerId: req.runnerId, at: req.now.toISOString() });
  if (res.status !== 'denied') return { ok: true, key, overBudget: res.status === 'over_budget' };
  const resetsAt = res.denial.daily ? window.end : null;
  return {
    ok: false,
    denial: res.denial,
    message: describeDenial(res.denial, resetsAt, estimate).replace('<id>', job.job_id),
    resumeAfter: resetsAt ? resetsAt.toISOString() : null,
  };
}

/** Replace the reservation with what the agent reported (idempotent). */
export function settleAttempt(budget: BudgetStore, key: ReservationKey | null, costUsd: number, now: Date): void {
  if (key) budget.settle(key, toMicros(costUsd), now.toISOString());
}

// ---------------------------------------------------------------------------------------------
// Concurrency

/** The slots a pending job needs to be claimed: its project's, and its next step's agent's. */
export async function slotNeedOfPending(queue: FsQueue, artifactsRoot: string, jobId: string): Promise<SlotNeed | undefined> {
  const read = await queue.readFile(queue.pathOf('pending', jobId));
  if (!read.ok) return undefined;
  const state = await new JobArtifacts(artifactsRoot, jobId).readState().catch(() => undefined);
  const cursor = state ? state.cursor : (read.job.steps[0]?.step_id ?? null);
  const step = read.job.steps.find((s) => s.step_id === cursor);
  return { jobId, agent: step?.agent ?? null, project: projectOf(read.job) };
}

/** Is a slot holder gone? The same test as for a lease's owner (pid on this host, else heartbeat). */
export function holderDeadCheck(leases: Leases, config: Config): (h: SlotHolder) => Promise<boolean> {
  return async (h) => {
    const hb = await leases.readHeartbeat(h.runnerId).catch(() => undefined);
    return leaseOwnerDead({ pid: h.pid, host: h.host, runner_id: h.runnerId }, hb, { now: Date.now(), host: config.host, staleMs: config.leaseStaleMs, pidAlive });
  };
}
