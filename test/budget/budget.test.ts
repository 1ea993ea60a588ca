/**
 * Budget arithmetic as tables: the budget day in BUDGET_TZ (DST days included), which limits
 * apply, the exact cap, the reservation estimate, and the configuration format.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig, parseBudgetLimits } from '../../lib/config.ts';
import { applicableLimits, dayWindow, decideReservation, describeDenial, overBudgetApproved, reserveEstimateMicros, toMicros, type ScopeLimit, type Usage } from '../../runner/budget.ts';

describe('budget: the day window', () => {
  const cases: Array<[string, string, string, string, string]> = [
    ['2030-03-05T12:00:00Z', 'UTC', '2030-03-05', '2030-03-05T00:00:00.000Z', '2030-03-06T00:00:00.000Z'],
    ['2030-03-05T23:59:59.999Z', 'UTC', '2030-03-05', '2030-03-05T00:00:00.000Z', '2030-03-06T00:00:00.000Z'],
    ['2030-03-05T22:30:00Z', 'Europe/Berlin', '2030-03-05', '2030-03-04T23:00:00.000Z', '2030-03-05T23:00:00.000Z'],
    ['2030-03-05T23:30:00Z', 'Europe/Berlin', '2030-03-06', '2030-03-05T23:00:00.000Z', '2030-03-06T23:00:00.000Z'],
    // spring forward in Berlin: a 23-hour day
    ['2030-03-31T12:00:00Z', 'Europe/Berlin', '2030-03-31', '2030-03-30T23:00:00.000Z', '2030-03-31T22:00:00.000Z'],
    // fall back in New York: a 25-hour day
    ['2030-11-03T12:00:00Z', 'America/New_York', '2030-11-03', '2030-11-03T04:00:00.000Z', '2030-11-04T05:00:00.000Z'],
    ['2030-01-01T03:00:00Z', 'Asia/Kolkata', '2030-01-01', '2029-12-31T18:30:00.000Z', '2030-01-01T18:30:00.000Z'],
    ['2030-06-01T11:00:00Z', 'Pacific/Kiritimati', '2030-06-02', '2030-06-01T10:00:00.000Z', '2030-06-02T10:00:00.000Z'],
  ];
  for (const [at, tz, day, start, end] of cases) {
    it(`${at} in ${tz} is ${day} [${start}, ${end})`, () => {
      const w = dayWindow(new Date(at), tz);
      expect(w.day).toBe(day);
      expect(w.start.toISOString()).toBe(start);
      expect(w.end.toISOString()).toBe(end);
    });
  }

  it('the first instant of the next day belongs to the next day', () => {
    const w = dayWindow(new Date('2030-11-03T12:00:00Z'), 'America/New_York');
    expect(dayWindow(w.end, 'America/New_York').day).toBe('2030-11-04');
    expect(dayWindow(new Date(w.end.getTime() - 1), 'America/New_York').day).toBe('2030-11-03');
  });
});

describe('budget: limits and the decision', () => {
  const config = loadConfig({ MAX_DAILY_API_CALLS: '10', MAX_DAILY_COST_USD: '2.5', BUDGET_LIMITS: 'agent.claude.calls=3,agent.claude.usd=1,agent.*.calls=5,project.web.app.usd=0.5', BUDGET_RESERVE_USD: '0.1' }, '/tmp');

  it('parses BUDGET_LIMITS (names may contain dots; `*` is the default entry)', () => {
    expect(config.budget.agents).toEqual({ claude: { calls: 3, usd: 1 }, '*': { calls: 5, usd: 0 } });
    expect(config.budget.projects).toEqual({ 'web.app': { calls: 0, usd: 0.5 } });
    expect(() => parseBudgetLimits('claude.calls=3')).toThrow(/BUDGET_LIMITS/);
    expect(() => parseBudgetLimits('agent.claude.calls=1.5')).toThrow(/BUDGET_LIMITS/);
    expect(() => loadConfig({ BUDGET_TZ: 'Mars/Olympus' }, '/tmp')).toThrow(/BUDGET_TZ/);
  });

  it('collects the limits that apply: job, global, the agent (or *), the project', () => {
    const l = applicableLimits(config.budget, { agent: 'claude', project: 'web.app', jobId: 'j1', jobMaxUsd: 0.2 });
    expect(l.map((x) => `${x.scope}:${x.key}:${x.calls}:${x.usdMicros}:${x.daily}`)).toEqual(['job:j1:0:200000:false', 'global:*:10:2500000:true', 'agent:claude:3:1000000:true', 'project:web.app:0:500000:true']);
    const other = applicableLimits(config.budget, { agent: 'codex', project: 'default', jobId: 'j2' });
    expect(other.map((x) => `${x.scope}:${x.key}:${x.source}`)).toEqual(['global:*:MAX_DAILY_API_CALLS/MAX_DAILY_COST_USD', 'agent:codex:BUDGET_LIMITS agent.*']);
    expect(applicableLimits(loadConfig({}, '/tmp').budget, { agent: 'claude', project: 'p', jobId: 'j' })).toEqual([]);
  });

  const limit = (calls: number, usd: number): ScopeLimit => ({ scope: 'global', key: '*', calls, usdMicros: toMicros(usd), daily: true, source: 'test' });
  const at = (calls: number, usd: number) => (): Usage => ({ calls, micros: toMicros(usd) });

  it('calls: the cap is reached exactly (used + 1 ≤ limit)', () => {
    expect(decideReservation([limit(3, 0)], at(2, 0), 0).ok).toBe(true);
    const d = decideReservation([limit(3, 0)], at(3, 0), 0);
    expect(d).toEqual({ ok: false, denial: expect.objectContaining({ kind: 'calls', limit: 3, used: 3 }) });
  });

  it('cost: a reservation never takes spent + reserved past the cap; nothing once the cap is reached', () => {
    expect(decideReservation([limit(0, 1)], at(0, 0.9), toMicros(0.1)).ok).toBe(true);
    expect(decideReservation([limit(0, 1)], at(0, 0.95), toMicros(0.1)).ok).toBe(false);
    expect(decideReservation([limit(0, 1)], at(0, 1), 0).ok).toBe(false);
    expect(decideReservation([limit(0, 1)], at(0, 0.999999), 0).ok).toBe(true);
  });

  it('the first limit that says no is named, with where it is configured and when it resets', () => {
    const d = decideReservation([limit(0, 0), { ...limit(2, 0), scope: 'agent', key: 'claude', source: 'BUDGET_LIMITS agent.claude' }], at(2, 0), 0);
    expect(d.ok).toBe(false);
    if (d.ok) return;
    const msg = describeDenial(d.denial, new Date('2030-01-02T00:00:00Z'), 0);
    expect(msg).toContain('daily budget of agent claude exhausted: 2 of 2 calls used today (BUDGET_LIMITS agent.claude)');
    expect(msg).toContain('resets at 2030-01-02T00:00:00.000Z');
    expect(msg).toContain('--over-budget');
  });

  it('reserves BUDGET_RESERVE_USD, else an estimate from the price table', () => {
    expect(reserveEstimateMicros(config.budget, 'claude')).toBe(100_000);
    const fromTable = reserveEstimateMicros({ reserveUsd: null }, 'claude');
    expect(fromTable).toBe(toMicros((20_000 * 3 + 2_000 * 15) / 1e6));
    expect(reserveEstimateMicros({ reserveUsd: null }, 'codex')).toBeLessThan(fromTable);
  });

  it('over-budget approval holds while it is the latest approval', () => {
    const a = (over: boolean) => ({ reason: 'budget_exceeded' as const, step_id: 's', at: '', by: 'x', decision: 'approved' as const, ...(over ? { over_budget: true } : {}) });
    expect(overBudgetApproved({ approvals: [] })).toBe(false);
    expect(overBudgetApproved({ approvals: [a(true)] })).toBe(true);
    expect(overBudgetApproved({ approvals: [a(true), a(false)] })).toBe(false);
  });
});
