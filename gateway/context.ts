/**
 * What every route needs, built once by createGateway(), plus the authentication hooks and the
 * access check on a job. Routes take this context explicitly (no module state).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { NormalizedJob } from '../contracts/index.ts';
import type { FsQueue } from '../fsqueue/queue.ts';
import type { Leases } from '../fsqueue/lease.ts';
import { isSafeJobId, type QueueState } from '../fsqueue/states.ts';
import type { Config } from '../lib/config.ts';
import { OrchestratorError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { RunnerEvents } from '../runner/events.ts';
import { mayAccessProject, parseBearer, type Authenticator, type Principal } from './auth.ts';
import type { CallbackDispatcher } from './callbacks.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { SseHub } from './sse.ts';
import { authenticateSession } from './ui/session-auth.ts';
import type { SessionStore } from './ui/sessions.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export interface GatewayContext {
  config: Config;
  log: Logger;
  queue: FsQueue;
  leases: Leases;
  auth: Authenticator;
  metrics: GatewayMetrics;
  sse: SseHub;
  /** In-process runner events (serve): SSE wake-ups. */
  events: RunnerEvents | undefined;
  callbacks: CallbackDispatcher | undefined;
  /** Dashboard sessions (/ui): a cookie the routes that opt in accept instead of a bearer token. */
  sessions: SessionStore | undefined;
  now: () => Date;
}

export function statusUrl(ctx: GatewayContext, id: string): string {
  return `${ctx.config.http.publicUrl ?? ''}/jobs/${id}`;
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/**
 * onRequest: a bearer token is checked before the body is read; a request that only carries
 * X-Hub-Signature-256 is let through to `verifySignature`, which needs the raw body. With
 * `session: true` the dashboard's session cookie is accepted too (same principal and scope as the
 * token it was opened with; changes need its CSRF header): see gateway/ui/session-auth.ts.
 */
export function requireAuth(ctx: GatewayContext, opts: { session?: boolean } = {}) {
  return async (req: FastifyRequest): Promise<void> => {
    const authz = header(req, 'authorization');
    if (authz !== undefined) {
      const token = parseBearer(authz);
      const p = token === undefined ? undefined : ctx.auth.matchToken(token);
      if (!p) throw new OrchestratorError('E_UNAUTHORIZED', token === undefined ? 'Authorization must be "Bearer <token>"' : 'invalid bearer token');
      req.principal = p;
      return;
    }
    if (opts.session && ctx.sessions && header(req, 'x-hub-signature-256') === undefined) {
      const s = authenticateSession(ctx.sessions, req);
      if (s) {
        req.principal = s.principal;
        return;
      }
    }
    if (header(req, 'x-hub-signature-256') !== undefined && ctx.auth.acceptsSignatures) return;
    throw new OrchestratorError('E_UNAUTHORIZED', `missing credentials: send Authorization: Bearer <token>${ctx.auth.acceptsSignatures ? ' or a signed body (X-Hub-Signature-256)' : ''}`);
  };
}

/** preHandler: verify X-Hub-Signature-256 over the raw body bytes, when present. */
export function verifySignature(ctx: GatewayContext) {
  return async (req: FastifyRequest): Promise<void> => {
    const sig = header(req, 'x-hub-signature-256');
    if (sig === undefined) {
      if (!req.principal) throw new OrchestratorError('E_UNAUTHORIZED', 'missing credentials');
      return;
    }
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const p = ctx.auth.verifySignature(body, sig);
    if (!p) throw new OrchestratorError('E_UNAUTHORIZED', ctx.auth.acceptsSignatures ? 'X-Hub-Signature-256 does not match the body' : 'signed requests are not accepted (WEBHOOK_SECRET is not set)');
    req.principal ??= p;
  };
}

export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new OrchestratorError('E_UNAUTHORIZED', 'missing credentials');
  return req.principal;
}

export function assertJobId(id: string): void {
  if (!isSafeJobId(id)) throw new OrchestratorError('E_BAD_INPUT', `invalid job id ${JSON.stringify(id.slice(0, 80))}: expected 8-64 of [A-Za-z0-9._-]`, { issues: [{ path: 'id', message: 'not a valid job id' }] });
}

/** Load a job the caller may see: 404 when absent, 403 when its project is outside the token's scope. */
export async function loadJobFor(ctx: GatewayContext, req: FastifyRequest, id: string): Promise<{ state: QueueState; job: NormalizedJob }> {
  assertJobId(id);
  const got = await ctx.queue.get(id);
  if (!got) throw new OrchestratorError('E_JOB_NOT_FOUND', `job ${id} not found`, { job_id: id });
  if (!mayAccessProject(principalOf(req), got.job.project_id)) throw new OrchestratorError('E_FORBIDDEN', `this token may not access job ${id} (project ${JSON.stringify(got.job.project_id ?? null)})`, { job_id: id });
  return got;
}

export function json(reply: FastifyReply, code: number, body: unknown): FastifyReply {
  return reply.code(code).type('application/json; charset=utf-8').send(body);
}
