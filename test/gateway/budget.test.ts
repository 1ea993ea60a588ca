/**
 * GET /budget: today's calls and cost against the limits, the very report of
 * `orchestrator budget --json`; same credentials as /jobs; a scoped token sees its projects only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { budgetReport } from '../../runner/budget-report.ts';
import { auth, http, postJob, startGateway, type GatewayHarness } from '../helpers/gateway-env.ts';
import { waitForState } from '../helpers/env.ts';

const SCOPED = 'scoped-token-proj1-abcdef';

let h: GatewayHarness;
beforeAll(async () => {
  h = await startGateway({ runner: true, env: { MAX_DAILY_COST_USD: '2', MAX_DAILY_API_CALLS: '40', WEBHOOK_TOKENS: `${SCOPED}=proj1`, PROJECT_ALIASES: 'proj1=/srv/repos/proj1' } });
});
afterAll(async () => h.close());

interface Line {
  name: string;
  calls: number;
  cost_usd: number;
  limit_calls: number | null;
  limit_usd: number | null;
}

describe('GET /budget', () => {
  it("reports today's usage against the limits, as `orchestrator budget --json` does", async () => {
    const id = (await postJob(h, { goal: 'spend a little', steps: [{ step_id: 'a', agent: 'claude' }] })).body as { job_id: string };
    await waitForState(h.home, id.job_id, ['done']);
    const r = await http(h.url, 'GET', '/budget', { headers: auth() });
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    const body = r.body as { day: string; scoped: boolean; global: Line; agents: Line[] };
    expect(body.scoped).toBe(false);
    expect(body.global).toMatchObject({ limit_calls: 40, limit_usd: 2 });
    expect(body.global.calls).toBeGreaterThanOrEqual(1);
    expect(body.global.cost_usd).toBeGreaterThan(0);
    expect(body.agents.map((a) => a.name)).toContain('claude');
    const { scoped: _s, ...rest } = body;
    expect(rest).toEqual(JSON.parse(JSON.stringify(budgetReport(h.home.config, new Date()))));
  });

  it('needs credentials; a scoped token gets its projects only, no global or per-agent totals', async () => {
    expect((await http(h.url, 'GET', '/budget')).status).toBe(401);
    expect((await http(h.url, 'GET', '/budget', { headers: auth('wrong-token-0123456789') })).status).toBe(401);
    const r = await http(h.url, 'GET', '/budget', { headers: auth(SCOPED) });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ scoped: true, global: null, agents: [], unsettled_calls: null });
    for (const p of (r.body as { projects: Line[] }).projects) expect(p.name).toBe('proj1');
  });
});
