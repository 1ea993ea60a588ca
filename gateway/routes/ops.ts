/**
 * Unauthenticated operational routes: /health (queue depth, runner liveness; 503 when no runner
 * has a fresh heartbeat), /metrics (Prometheus text), /docs and /docs/json (OpenAPI).
 * Put them behind the reverse proxy's own access rules if they must not be public.
 */
import type { FastifyInstance } from 'fastify';
import { errorMessage } from '../../lib/errors.ts';
import { json, type GatewayContext } from '../context.ts';
import { docsPage, openApiDocument } from '../openapi.ts';

export interface HealthExtra {
  /** e.g. the scheduler's loaded schedules and the files it skipped. */
  health(): Record<string, unknown>;
}

/** The body of /health (and of the dashboard's /ui/health): queue depth, runner heartbeats, extras. */
export async function healthReport(ctx: GatewayContext, extras: Record<string, HealthExtra> = {}): Promise<{ ok: boolean } & Record<string, unknown>> {
  const now = ctx.now().getTime();
  let queue: Record<string, number> | null = null;
  let queueError: string | null = null;
  try {
    queue = await ctx.queue.counts();
  } catch (err) {
    queueError = errorMessage(err);
  }
  const runners = (await ctx.leases.listHeartbeats().catch(() => [])).map((h) => ({
    runner_id: h.runner_id,
    host: h.host,
    pid: h.pid,
    heartbeat_at: h.heartbeat_at,
    fresh: now - Date.parse(h.heartbeat_at) <= ctx.config.leaseStaleMs,
    running: h.running,
  }));
  const runnerAlive = runners.some((r) => r.fresh);
  const ok = runnerAlive && queue !== null;
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(extras)) extra[k] = v.health();
  return {
    ok,
    queue,
    ...(queueError ? { queue_error: queueError } : {}),
    runner_alive: runnerAlive,
    runners,
    ...extra,
  };
}

export function registerOpsRoutes(app: FastifyInstance, ctx: GatewayContext, extras: Record<string, HealthExtra> = {}): void {
  app.get('/health', async (_req, reply) => {
    const body = await healthReport(ctx, extras);
    return json(reply, body.ok ? 200 : 503, body);
  });

  app.get('/metrics', async (_req, reply) => reply.code(200).type(ctx.metrics.contentType).send(await ctx.metrics.render()));

  const doc = openApiDocument({ publicUrl: ctx.config.http.publicUrl });
  const page = docsPage(doc);
  app.get('/docs/json', async (_req, reply) => json(reply, 200, doc));
  app.get('/docs', async (_req, reply) => reply.code(200).type('text/html; charset=utf-8').header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'").send(page));
}
