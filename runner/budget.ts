/**
 * Budget arithmetic (pure): the budget day in BUDGET_TZ, which limits apply to a call, how much a
 * call reserves before its real cost is known, and whether one more call fits. No clock, no IO:
 * the SQLite side is runner/budget-store.ts, the runner glue runner/budget-gate.ts.
 *
 * Money is counted in integer micro-dollars, so sums never drift.
 */
import type { BudgetLimit, BudgetSettings } from '../lib/config.ts';
import { estimateCost, lookupPrice, PRICES, type PriceTable } from '../workers/pricing.ts';
import type { JobState } from './state.ts';

/** Jobs without a project_id are counted (budget and concurrency) under this project key. */
export const NO_PROJECT = 'default';
export const MICROS_PER_USD = 1_000_000;

export const toMicros = (usd: number): number => Math.round(usd * MICROS_PER_USD);
export const fromMicros = (micros: number): number => micros / MICROS_PER_USD;
export const fmtMicros = (micros: number): string => `$${fromMicros(micros).toFixed(4)}`;

// ---------------------------------------------------------------------------------------------
// The budget day

export interface DayWindow {
  /** Local date in the budget zone, YYYY-MM-DD: the key usage is counted under. */
  day: string;
  /** First instant of that local day. */
  start: Date;
  /** First instant of the next local day: when the daily limits reset. */
  end: Date;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const dayStarts = new Map<string, number>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(tz, f);
  }
  return f;
}

/** YYYY-MM-DD of instant `ms` in zone `tz`. */
export function localDate(ms: number, tz: string): string {
  const parts = formatter(tz).formatToParts(new Date(ms));
  const get = (t: string): string => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('year').padStart(4, '0')}-${get('month')}-${get('day')}`;
}

function addDays(day: string, n: number): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

/**
 * The first instant whose local date is `day`. Found by bisection on the zone's own calendar, so
 * DST changes (23 h and 25 h days) and zones whose midnight does not exist come out right.
 */
export function startOfDay(day: string, tz: string): number {
  const cacheKey = `${tz} ${day}`;
  const cached = dayStarts.get(cacheKey);
  if (cached !== undefined) return cached;
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const utcMidnight = Date.UTC(y, m - 1, d);
  // offsets lie within ±14 h: the local date is before `day` at lo and not before it at hi
  let lo = utcMidnight - 36 * 3_600_000;
  let hi = utcMidnight + 36 * 3_600_000;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (localDate(mid, tz) < day) lo = mid;
    else hi = mid;
  }
  if (dayStarts.size > 1000) dayStarts.clear();
  dayStarts.set(cacheKey, hi);
  return hi;
}

export function dayWindow(at: Date, tz: string): DayWindow {
  const day = localDate(at.getTime(), tz);
  return { day, start: new Date(startOfDay(day, tz)), end: new Date(startOfDay(addDays(day, 1), tz)) };
}

// ---------------------------------------------------------------------------------------------
// Limits

export type BudgetScope = 'global' | 'agent' | 'project' | 'job';

export interface ScopeLimit {
  scope: BudgetScope;
  /** The agent name, project id or job id the usage is summed over ('*' for global). */
  key: string;
  /** 0 = no limit on calls. */
  calls: number;
  /** 0 = no limit on cost. */
  usdMicros: number;
  /** Daily limits reset at the end of the budget day; a job's own limit never resets. */
  daily: boolean;
  /** Where the limit comes from, for messages (`MAX_DAILY_API_CALLS`, `BUDGET_LIMITS agent.claude`...). */
  source: string;
}

export interface Usage {
  calls: number;
  micros: number;
}

/** An entry for `key`, else the `*` default, else none. */
export function limitFor(map: Record<string, BudgetLimit>, key: string): { limit: BudgetLimit; matched: string } | undefined {
  if (Object.hasOwn(map, key)) return { limit: map[key]!, matched: key };
  if (Object.hasOwn(map, '*')) return { limit: map['*']!, matched: '*' };
  return undefined;
}

const active = (l: ScopeLimit): boolean => l.calls > 0 || l.usdMicros > 0;

/** Every limit a call of `agent` for a job of `project` must fit under (only those switched on). */
export function applicableLimits(settings: BudgetSettings, req: { agent: string; project: string; jobId: string; jobMaxUsd?: number | undefined }): ScopeLimit[] {
  const out: ScopeLimit[] = [];
  if (req.jobMaxUsd !== undefined && req.jobMaxUsd > 0) {
    out.push({ scope: 'job', key: req.jobId, calls: 0, usdMicros: toMicros(req.jobMaxUsd), daily: false, source: 'policy.max_cost_usd' });
  }
  const calls = settings.global.calls > 0 ? 'MAX_DAILY_API_CALLS' : '';
  const usd = settings.global.usd > 0 ? 'MAX_DAILY_COST_USD' : '';
  out.push({ scope: 'global', key: '*', calls: settings.global.calls, usdMicros: toMicros(settings.global.usd), daily: true, source: [calls, usd].filter(Boolean).join('/') });
  const agent = limitFor(settings.agents, req.agent);
  if (agent) out.push({ scope: 'agent', key: req.agent, calls: agent.limit.calls, usdMicros: toMicros(agent.limit.usd), daily: true, source: `BUDGET_LIMITS agent.${agent.matched}` });
  const project = limitFor(settings.projects, req.project);
  if (project) out.push({ scope: 'project', key: req.project, calls: project.limit.calls, usdMicros: toMicros(project.limit.usd), daily: true, source: `BUDGET_LIMITS project.${project.matched}` });
  return out.filter(active);
}

/** Tokens a call is assumed to use when BUDGET_RESERVE_USD is not set (priced from prices.json). */
export const RESERVE_TOKENS = { tokens_in: 20_000, tokens_out: 2_000, tokens_cached: 0 } as const;

/** What one call reserves until it is settled with its real cost. */
export function reserveEstimateMicros(settings: Pick<BudgetSettings, 'reserveUsd'>, agent: string, table: PriceTable = PRICES): number {
  if (settings.reserveUsd !== null) return toMicros(settings.reserveUsd);
  return toMicros(estimateCost(RESERVE_TOKENS, lookupPrice(agent, null, table)));
}

export interface Denial {
  scope: BudgetScope;
  key: string;
  kind: 'calls' | 'usd';
  /** Calls, or micro-dollars. */
  limit: number;
  used: number;
  daily: boolean;
  source: string;
}

export type BudgetDecision = { ok: true } | { ok: false; denial: Denial };

/**
 * Does one more call (reserving `estimateMicros`) fit under every limit? Calls: used + 1 ≤ limit,
 * so the cap is reached exactly. Cost: nothing more once the cap is reached, and never a
 * reservation that would take the reserved + spent total past it.
 */
export function decideReservation(limits: readonly ScopeLimit[], usageOf: (l: ScopeLimit) => Usage, estimateMicros: number): BudgetDecision {
  for (const l of limits) {
    const u = usageOf(l);
    const base = { scope: l.scope, key: l.key, daily: l.daily, source: l.source };
    if (l.calls > 0 && u.calls + 1 > l.calls) return { ok: false, denial: { ...base, kind: 'calls', limit: l.calls, used: u.calls } };
    if (l.usdMicros > 0 && (u.micros >= l.usdMicros || u.micros + estimateMicros > l.usdMicros)) {
      return { ok: false, denial: { ...base, kind: 'usd', limit: l.usdMicros, used: u.micros } };
    }
  }
  return { ok: true };
}

/** A person-readable reason (what, which limit, where it is configured, when it resets). */
export function describeDenial(d: Denial, resetsAt: Date | null, estimateMicros: number): string {
  const who = d.scope === 'global' ? 'daily budget' : d.scope === 'job' ? `budget of job ${d.key}` : `daily budget of ${d.scope} ${d.key}`;
  const amount = d.kind === 'calls'
    ? `${d.used} of ${d.limit} calls used${d.daily ? ' today' : ''}`
    : `${fmtMicros(d.used)} of ${fmtMicros(d.limit)} spent or reserved${d.daily ? ' today' : ''}, the next call reserves ${fmtMicros(estimateMicros)}`;
  const when = d.daily && resetsAt ? `; it resets at ${resetsAt.toISOString()} and the job resumes by itself then` : '; it does not reset';
  return `${who} exhausted: ${amount} (${d.source})${when}. Run it anyway: orchestrator approve --job <id> --over-budget`;
}

/** Over-budget approval holds until the job next waits: the latest approval decides. */
export function overBudgetApproved(state: Pick<JobState, 'approvals'>): boolean {
  const last = state.approvals[state.approvals.length - 1];
  return last?.decision === 'approved' && last.over_budget === true;
}
