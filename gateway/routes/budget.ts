/**
 * GET /budget: today's agent calls and cost against the limits, the same report as
 * `orchestrator budget --json` (one library function, cli/commands/admin.ts budgetReport).
 * Same credentials as /jobs (the dashboard's session cookie included). A token scoped to projects
 * sees its projects' lines only: the global and per-agent totals add up other projects' spend,
 * so they are left out (null / empty) for it.
 */
import type { FastifyInstance } from 'fastify';
import { budgetReport } from '../../runner/budget-report.ts';
import { json, principalOf, requireAuth, verifySignature, type GatewayContext } from '../context.ts';

export function registerBudgetRoute(app: FastifyInstance, ctx: GatewayContext): void {
  const auth = { onRequest: requireAuth(ctx, { session: true }), preHandler: verifySignature(ctx) };
  app.get('/budget', auth, async (req, reply) => {
    const rep = budgetReport(ctx.config, ctx.now());
    const p = principalOf(req);
    reply.header('cache-control', 'no-store');
    if (p.projects === '*') return json(reply, 200, { ...rep, scoped: false });
    const mine = new Set(p.projects);
    return json(reply, 200, { ...rep, scoped: true, global: null, agents: [], unsettled_calls: null, projects: rep.projects.filter((l) => mine.has(l.name)) });
  });
}
