/**
 * The budget ledger in SQLite: one row per agent call, keyed by (job, step, attempt).
 *
 * - reserve: ONE immediate transaction sums the day's usage of every scope that has a limit
 *   (global, agent, project) and the job's lifetime usage, and inserts the row only if one more
 *   call fits under all of them. The write lock is held from BEGIN, so runners in different
 *   processes are serialised: N racing for the last call give exactly one winner.
 * - settle: replaces the row's reserved estimate with the real cost, once (UPDATE ... WHERE
 *   status = 'reserved'); a second settle of the same key changes nothing.
 * - replay: reserving a key that already has a row returns 'replayed' and counts nothing, so a
 *   runner that crashed after reserving and retries the same attempt is not charged twice.
 * - A reservation that is never settled (its runner died mid-call) keeps counting at its estimate:
 *   the call may well have been billed, and the ledger must not under-count.
 * A row's usage is its cost once settled, else its reservation; every row is one call.
 */
import { decideReservation, type Denial, type ScopeLimit, type Usage } from './budget.ts';
import { openStateDb, type StateDb } from './state-db.ts';

export interface ReservationKey {
  jobId: string;
  stepId: string;
  attempt: number;
}

export interface ReserveRequest {
  key: ReservationKey;
  agent: string;
  project: string;
  /** Budget day (BUDGET_TZ local date) the call is counted under. */
  day: string;
  estimateMicros: number;
  /** From budget.ts applicableLimits. */
  limits: readonly ScopeLimit[];
  /** Approved with --over-budget: recorded, never refused. */
  overBudget: boolean;
  runnerId: string;
  at: string;
}

export type ReserveResult = { status: 'reserved' | 'replayed' | 'over_budget' } | { status: 'denied'; denial: Denial };

export type SettleResult = 'settled' | 'already_settled' | 'unknown';

export interface UsageRow extends Usage {
  name: string;
}

export interface DayReport {
  day: string;
  total: Usage;
  /** Calls reserved but not (yet) settled: running now, or lost in a crash (counted at their estimate). */
  unsettled: number;
  agents: UsageRow[];
  projects: UsageRow[];
}

const USAGE = 'COUNT(*) AS calls, COALESCE(SUM(COALESCE(cost_micros, reserved_micros)), 0) AS micros';

export class BudgetStore {
  private readonly stmts;

  constructor(readonly db: StateDb) {
    this.stmts = {
      find: db.prepare<[string, string, number], { status: string }>('SELECT status FROM budget_usage WHERE job_id = ? AND step_id = ? AND attempt = ?'),
      day: db.prepare<[string], Usage>(`SELECT ${USAGE} FROM budget_usage WHERE day = ?`),
      dayAgent: db.prepare<[string, string], Usage>(`SELECT ${USAGE} FROM budget_usage WHERE day = ? AND agent = ?`),
      dayProject: db.prepare<[string, string], Usage>(`SELECT ${USAGE} FROM budget_usage WHERE day = ? AND project = ?`),
      job: db.prepare<[string], Usage>(`SELECT ${USAGE} FROM budget_usage WHERE job_id = ?`),
      insert: db.prepare(
        `INSERT INTO budget_usage (job_id, step_id, attempt, day, agent, project, reserved_micros, status, over_budget, runner_id, reserved_at)
         VALUES (@job_id, @step_id, @attempt, @day, @agent, @project, @reserved_micros, 'reserved', @over_budget, @runner_id, @at)`,
      ),
      settle: db.prepare<[number, string, string, string, number]>(
        `UPDATE budget_usage SET cost_micros = ?, status = 'settled', settled_at = ? WHERE job_id = ? AND step_id = ? AND attempt = ? AND status = 'reserved'`,
      ),
      unsettled: db.prepare<[string], { n: number }>(`SELECT COUNT(*) AS n FROM budget_usage WHERE day = ? AND status = 'reserved'`),
      byAgent: db.prepare<[string], UsageRow>(`SELECT agent AS name, ${USAGE} FROM budget_usage WHERE day = ? GROUP BY agent ORDER BY agent`),
      byProject: db.prepare<[string], UsageRow>(`SELECT project AS name, ${USAGE} FROM budget_usage WHERE day = ? GROUP BY project ORDER BY project`),
    };
  }

  static open(file: string): BudgetStore {
    return new BudgetStore(openStateDb(file));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Usage of one scope: the budget day's for global/agent/project, the lifetime's for a job. */
  usage(scope: ScopeLimit['scope'], key: string, day: string): Usage {
    const row =
      scope === 'global' ? this.stmts.day.get(day)
      : scope === 'agent' ? this.stmts.dayAgent.get(day, key)
      : scope === 'project' ? this.stmts.dayProject.get(day, key)
      : this.stmts.job.get(key);
    return { calls: row?.calls ?? 0, micros: row?.micros ?? 0 };
  }

  /** Check every limit and record the call, atomically (see the module header). */
  reserve(req: ReserveRequest): ReserveResult {
    const { key } = req;
    return this.db.transaction((): ReserveResult => {
      if (this.stmts.find.get(key.jobId, key.stepId, key.attempt)) return { status: 'replayed' };
      if (!req.overBudget) {
        const decision = decideReservation(req.limits, (l) => this.usage(l.scope, l.key, req.day), req.estimateMicros);
        if (!decision.ok) return { status: 'denied', denial: decision.denial };
      }
      this.stmts.insert.run({
        job_id: key.jobId, step_id: key.stepId, attempt: key.attempt, day: req.day, agent: req.agent, project: req.project,
        reserved_micros: req.estimateMicros, over_budget: req.overBudget ? 1 : 0, runner_id: req.runnerId, at: req.at,
      });
      return { status: req.overBudget ? 'over_budget' : 'reserved' };
    }).immediate();
  }

  /** Replace the reservation with the real cost; idempotent (the first settle wins). */
  settle(key: ReservationKey, costMicros: number, at: string): SettleResult {
    return this.db.transaction((): SettleResult => {
      const changed = this.stmts.settle.run(Math.max(0, Math.round(costMicros)), at, key.jobId, key.stepId, key.attempt).changes;
      if (changed > 0) return 'settled';
      return this.stmts.find.get(key.jobId, key.stepId, key.attempt) ? 'already_settled' : 'unknown';
    }).immediate();
  }

  report(day: string): DayReport {
    const total = this.usage('global', '*', day);
    return {
      day,
      total,
      unsettled: this.stmts.unsettled.get(day)?.n ?? 0,
      agents: this.stmts.byAgent.all(day),
      projects: this.stmts.byProject.all(day),
    };
  }
}
