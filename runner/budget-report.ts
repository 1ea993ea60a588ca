/**
 * Today's budget usage against the limits, per agent and per project (pure formatting over the
 * SQLite ledger). Shared by `orchestrator budget` and the gateway's `GET /budget`.
 */
import type { BudgetLimit, Config } from '../lib/config.ts';
import { dayWindow, fromMicros, limitFor, type Usage } from './budget.ts';
import { BudgetStore, type UsageRow } from './budget-store.ts';

export interface BudgetLine {
  name: string;
  calls: number;
  cost_usd: number;
  limit_calls: number | null;
  limit_usd: number | null;
  limit_source: string | null;
}

function line(name: string, usage: Usage, limit: { limit: BudgetLimit; matched: string } | undefined, source: (m: string) => string): BudgetLine {
  return {
    name,
    calls: usage.calls,
    cost_usd: fromMicros(usage.micros),
    limit_calls: limit && limit.limit.calls > 0 ? limit.limit.calls : null,
    limit_usd: limit && limit.limit.usd > 0 ? limit.limit.usd : null,
    limit_source: limit ? source(limit.matched) : null,
  };
}

/** Usage rows for every name that has usage or an explicit limit. */
function lines(rows: UsageRow[], limits: Record<string, BudgetLimit>, scope: 'agent' | 'project'): BudgetLine[] {
  const names = new Set([...rows.map((r) => r.name), ...Object.keys(limits).filter((k) => k !== '*')]);
  return [...names].sort().map((name) => {
    const r = rows.find((x) => x.name === name) ?? { calls: 0, micros: 0 };
    return line(name, r, limitFor(limits, name), (m) => `BUDGET_LIMITS ${scope}.${m}`);
  });
}

export function budgetReport(config: Config, now: Date): Record<string, unknown> & { global: BudgetLine; agents: BudgetLine[]; projects: BudgetLine[] } {
  const window = dayWindow(now, config.budget.tz);
  const store = BudgetStore.open(config.paths.stateDbPath);
  try {
    const r = store.report(window.day);
    const g = config.budget.global;
    return {
      day: window.day,
      tz: config.budget.tz,
      resets_at: window.end.toISOString(),
      global: line('all', r.total, g.calls > 0 || g.usd > 0 ? { limit: g, matched: '' } : undefined, () => 'MAX_DAILY_API_CALLS/MAX_DAILY_COST_USD'),
      unsettled_calls: r.unsettled,
      reserve_usd_per_call: config.budget.reserveUsd,
      agents: lines(r.agents, config.budget.agents, 'agent'),
      projects: lines(r.projects, config.budget.projects, 'project'),
    };
  } finally {
    store.close();
  }
}
