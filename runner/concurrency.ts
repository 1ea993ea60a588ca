/**
 * Machine-wide concurrency limits per agent (AGENT_CONCURRENCY="claude=2,codex=1") and per project
 * (PROJECT_CONCURRENCY="web=1,*=2"), shared by every runner process through the state database.
 * RUNNER_CONCURRENCY, the per-runner cap, stays in the runner itself.
 *
 * A slot is a row `slots(scope, key, job_id, runner_id, pid, host)`. Why rows in SQLite rather than
 * O_EXCL slot files: taking a project slot AND an agent slot must be all-or-nothing, and "count the
 * holders, insert if below the limit" is one immediate transaction; with files it would be a lock
 * dance per slot number. The holder columns are exactly a lease's owner, so a dead holder is
 * recognised with fsqueue/lease.ts leaseOwnerDead (pid gone on this host, or heartbeat stale) and
 * its rows are deleted (`reclaimDead`).
 *
 * Which slots a job holds: its project's for the whole run, and the agent slot of the step it is
 * about to run (taken at claim time for the cursor's step, swapped at each step boundary). A job
 * that cannot get its slots is not claimed (it stays in pending, other jobs go first); a running
 * job that cannot get the next step's agent slot is handed back to pending.
 */
import type { ConcurrencySettings } from '../lib/config.ts';
import type { StateDb } from './state-db.ts';

export interface SlotHolder {
  runnerId: string;
  pid: number;
  host: string;
}

export interface SlotNeed {
  jobId: string;
  /** The agent of the step about to run; null = none (the job's agent slot is released). */
  agent: string | null;
  project: string;
}

export type SlotDecision =
  | { ok: true }
  | { ok: false; scope: 'agent' | 'project' | 'job'; key: string; limit: number; held: number; reason: string };

export interface SlotRow {
  scope: 'agent' | 'project';
  key: string;
  job_id: string;
  runner_id: string;
  pid: number;
  host: string;
  acquired_at: string;
}

/** The limit for `key` (`*` = default for names without their own entry); 0 = unlimited. */
export function slotLimit(map: Record<string, number>, key: string): number {
  if (Object.hasOwn(map, key)) return map[key]!;
  if (Object.hasOwn(map, '*')) return map['*']!;
  return 0;
}

export function limitsConfigured(limits: ConcurrencySettings): boolean {
  return Object.keys(limits.agents).length > 0 || Object.keys(limits.projects).length > 0;
}

/** Pure: may `need` take its slots, given how many slots other jobs hold and what it holds already? */
export function decideSlots(
  need: SlotNeed,
  limits: ConcurrencySettings,
  state: { projectHeldByOthers: number; projectMine: boolean; agentHeldByOthers: number; agentMine: boolean },
): SlotDecision {
  const pLimit = slotLimit(limits.projects, need.project);
  if (pLimit > 0 && !state.projectMine && state.projectHeldByOthers >= pLimit) {
    return { ok: false, scope: 'project', key: need.project, limit: pLimit, held: state.projectHeldByOthers, reason: `project ${need.project} is at its limit of ${pLimit} running job(s) (PROJECT_CONCURRENCY)` };
  }
  if (need.agent) {
    const aLimit = slotLimit(limits.agents, need.agent);
    if (aLimit > 0 && !state.agentMine && state.agentHeldByOthers >= aLimit) {
      return { ok: false, scope: 'agent', key: need.agent, limit: aLimit, held: state.agentHeldByOthers, reason: `agent ${need.agent} is at its limit of ${aLimit} running step(s) (AGENT_CONCURRENCY)` };
    }
  }
  return { ok: true };
}

export class SlotStore {
  private readonly stmts;

  constructor(
    readonly db: StateDb,
    readonly holder: SlotHolder,
    readonly limits: ConcurrencySettings,
  ) {
    this.stmts = {
      foreign: db.prepare<[string, string, number], { runner_id: string; pid: number; host: string }>(
        'SELECT runner_id, pid, host FROM slots WHERE job_id = ? AND NOT (runner_id = ? AND pid = ?) LIMIT 1',
      ),
      others: db.prepare<[string, string, string], { n: number }>('SELECT COUNT(*) AS n FROM slots WHERE scope = ? AND key = ? AND job_id != ?'),
      mine: db.prepare<[string, string, string], { n: number }>('SELECT COUNT(*) AS n FROM slots WHERE scope = ? AND key = ? AND job_id = ?'),
      dropOtherAgents: db.prepare<[string, string]>("DELETE FROM slots WHERE job_id = ? AND scope = 'agent' AND key != ?"),
      dropAgents: db.prepare<[string]>("DELETE FROM slots WHERE job_id = ? AND scope = 'agent'"),
      insert: db.prepare('INSERT INTO slots (scope, key, job_id, runner_id, pid, host, acquired_at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      release: db.prepare<[string, string, number]>('DELETE FROM slots WHERE job_id = ? AND runner_id = ? AND pid = ?'),
      releaseHolder: db.prepare<[string, number, string]>('DELETE FROM slots WHERE runner_id = ? AND pid = ? AND host = ?'),
      holders: db.prepare<[], { runner_id: string; pid: number; host: string }>('SELECT DISTINCT runner_id, pid, host FROM slots'),
      all: db.prepare<[], SlotRow>('SELECT scope, key, job_id, runner_id, pid, host, acquired_at FROM slots ORDER BY scope, key, acquired_at'),
    };
  }

  get enabled(): boolean {
    return limitsConfigured(this.limits);
  }

  /**
   * Take (or keep) the project slot and the agent slot `need` asks for, all or nothing; the job's
   * slot for any other agent is given back. A job whose slots belong to another live holder is
   * refused (it is being claimed or run elsewhere).
   */
  acquire(need: SlotNeed, at: string): SlotDecision {
    const h = this.holder;
    return this.db.transaction((): SlotDecision => {
      const foreign = this.stmts.foreign.get(need.jobId, h.runnerId, h.pid);
      if (foreign) return { ok: false, scope: 'job', key: need.jobId, limit: 1, held: 1, reason: `job ${need.jobId} holds slots of runner ${foreign.runner_id} (pid ${foreign.pid} on ${foreign.host})` };
      const count = (scope: string, key: string): { others: number; mine: boolean } => ({
        others: this.stmts.others.get(scope, key, need.jobId)?.n ?? 0,
        mine: (this.stmts.mine.get(scope, key, need.jobId)?.n ?? 0) > 0,
      });
      const p = count('project', need.project);
      const a = need.agent ? count('agent', need.agent) : { others: 0, mine: false };
      const decision = decideSlots(need, this.limits, { projectHeldByOthers: p.others, projectMine: p.mine, agentHeldByOthers: a.others, agentMine: a.mine });
      if (!decision.ok) return decision;
      if (need.agent) this.stmts.dropOtherAgents.run(need.jobId, need.agent);
      else this.stmts.dropAgents.run(need.jobId);
      if (!p.mine && slotLimit(this.limits.projects, need.project) > 0) this.stmts.insert.run('project', need.project, need.jobId, h.runnerId, h.pid, h.host, at);
      if (need.agent && !a.mine && slotLimit(this.limits.agents, need.agent) > 0) this.stmts.insert.run('agent', need.agent, need.jobId, h.runnerId, h.pid, h.host, at);
      return { ok: true };
    }).immediate();
  }

  /** Give back every slot this holder has for a job (job finished, parked, handed back, claim lost). */
  release(jobId: string): number {
    return this.stmts.release.run(jobId, this.holder.runnerId, this.holder.pid).changes;
  }

  /** Give back everything this holder has (runner stop). */
  releaseAll(): number {
    return this.stmts.releaseHolder.run(this.holder.runnerId, this.holder.pid, this.holder.host).changes;
  }

  list(): SlotRow[] {
    return this.stmts.all.all();
  }

  /** Delete the slots of holders that are gone (crashed runner). Returns how many rows were freed. */
  async reclaimDead(isDead: (h: SlotHolder) => Promise<boolean>): Promise<number> {
    let freed = 0;
    for (const row of this.stmts.holders.all()) {
      const h: SlotHolder = { runnerId: row.runner_id, pid: row.pid, host: row.host };
      if (h.runnerId === this.holder.runnerId && h.pid === this.holder.pid) continue;
      if (await isDead(h)) freed += this.stmts.releaseHolder.run(h.runnerId, h.pid, h.host).changes;
    }
    return freed;
  }
}
