/**
 * POST /webhook: a job in, a durable queue entry out (or a coded 4xx/503, and nothing written).
 *
 * Order: rate limit → bearer (before the body is read) → content type and body size (fastify,
 * raw bytes) → HMAC over those bytes → strict UTF-8 + JSON → project scope and alias → the one
 * submit path (validation naming every JSON path, defaults, idempotency, durable enqueue).
 * The job's workdir comes from PROJECT_ALIASES, never from the payload.
 */
import path from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Job } from '../../contracts/index.ts';
import { OrchestratorError, type Issue } from '../../lib/errors.ts';
import { submitJob } from '../../runner/submit.ts';
import { mayAccessProject, type Principal } from '../auth.ts';
import { decodeJsonBody } from '../body.ts';
import { json, principalOf, requireAuth, statusUrl, verifySignature, type GatewayContext } from '../context.ts';
import { RateLimiter } from '../rate-limit.ts';

const HEADER_KEY_RE = /^[\x21-\x7e]{1,200}$/;

function headerValue(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  if (Array.isArray(v)) throw new OrchestratorError('E_BAD_INPUT', `header ${name} was sent more than once`, { issues: [{ path: `headers.${name}`, message: 'sent more than once' }] });
  return v;
}

/**
 * The idempotency key of a delivery: Idempotency-Key, else X-GitHub-Delivery, else the payload's
 * idempotency_key. Keys of a scoped token live in that scope's namespace, so one tenant's key
 * never answers with another tenant's job.
 */
export function idempotencyKeyOf(headers: { key?: string | undefined; delivery?: string | undefined }, payloadKey: unknown, p: Principal): string | undefined {
  for (const [name, v] of [['idempotency-key', headers.key], ['x-github-delivery', headers.delivery]] as const) {
    if (v !== undefined && !HEADER_KEY_RE.test(v)) throw new OrchestratorError('E_BAD_INPUT', `header ${name} must be 1-200 visible ASCII characters`, { issues: [{ path: `headers.${name}`, message: 'must be 1-200 visible ASCII characters' }] });
  }
  const key = headers.key ?? (headers.delivery !== undefined ? `github-delivery:${headers.delivery}` : typeof payloadKey === 'string' ? payloadKey : undefined);
  if (key === undefined) return undefined;
  return p.projects === '*' ? key : `scope:${[...p.projects].sort().join('|')}:${key}`;
}

export interface ProjectDecision {
  override: Partial<Pick<Job, 'workdir' | 'project_id' | 'source'>>;
  issues: Issue[];
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Pure: the scope check and the project alias. Throws E_FORBIDDEN for a project outside the
 * token's scope; returns the override (workdir from the alias, source = webhook) and the issues.
 */
export function decideProject(raw: unknown, p: Principal, aliases: Record<string, string>, meta: Record<string, unknown>): ProjectDecision {
  const issues: Issue[] = [];
  const override: ProjectDecision['override'] = {};
  if (!isObject(raw)) return { override, issues };
  const pid = raw.project_id;
  if (typeof pid === 'string') {
    if (!mayAccessProject(p, pid)) throw new OrchestratorError('E_FORBIDDEN', `this token may not submit for project ${JSON.stringify(pid)}`, { issues: [{ path: '$.project_id', message: 'outside the token\'s projects' }] });
    const dir = Object.hasOwn(aliases, pid) ? aliases[pid] : undefined;
    if (dir === undefined) {
      const allowed = Object.keys(aliases).filter((k) => mayAccessProject(p, k));
      issues.push({ path: '$.project_id', message: `unknown project (not in PROJECT_ALIASES)${allowed.length ? `; known: ${allowed.join(', ')}` : ''}` });
    } else override.workdir = dir;
  } else if (pid === undefined && p.projects !== '*') {
    throw new OrchestratorError('E_FORBIDDEN', `this token may only submit for projects ${p.projects.join(', ')}: set project_id`, { issues: [{ path: '$.project_id', message: 'required for this token' }] });
  }
  if (raw.workdir !== undefined && raw.workdir !== '.') {
    issues.push({ path: '$.workdir', message: 'a webhook job takes its workdir from PROJECT_ALIASES: set project_id instead (only "." is accepted here)' });
  }
  const source = raw.source;
  const payloadMeta = isObject(source) && isObject(source.meta) ? source.meta : {};
  override.source = { type: 'webhook', meta: { ...payloadMeta, ...meta } };
  return { override, issues };
}

export function registerWebhookRoute(app: FastifyInstance, ctx: GatewayContext): void {
  const limiter = new RateLimiter({ perMin: ctx.config.webhook.rateLimitPerMin, burst: ctx.config.webhook.rateLimitBurst });
  app.post('/webhook', {
    bodyLimit: ctx.config.webhook.maxBodyBytes,
    onRequest: [
      async (req) => {
        const r = limiter.take(req.ip);
        if (!r.ok) throw new OrchestratorError('E_RATE_LIMITED', `too many requests: retry in ${r.retryAfterSec} s`, { retry_after_sec: r.retryAfterSec });
      },
      requireAuth(ctx),
    ],
    preHandler: verifySignature(ctx),
    onResponse: async (_req, reply) => ctx.metrics.webhookRequest(reply.statusCode),
  }, async (req, reply) => {
    const principal = principalOf(req);
    const raw = decodeJsonBody(req.body, { contentType: req.headers['content-type'], required: true });
    const delivery = headerValue(req, 'x-github-delivery');
    const key = idempotencyKeyOf({ key: headerValue(req, 'idempotency-key'), delivery }, isObject(raw) ? raw.idempotency_key : undefined, principal);
    const event = headerValue(req, 'x-github-event');
    const meta: Record<string, unknown> = { via: principal.id, ...(delivery ? { delivery_id: delivery } : {}), ...(event && /^[\w.-]{1,64}$/.test(event) ? { event } : {}) };
    const decision = decideProject(raw, principal, ctx.config.projectAliases, meta);
    // one validation pass: the schema's problems and the alias's, in one E_SCHEMA
    const res = await submitJob(raw, { queue: ctx.queue, artifactsRoot: ctx.config.paths.artifactsRoot, sourceType: 'webhook', ...(key ? { idempotencyKey: key } : {}), override: decision.override, issues: decision.issues, now: ctx.now });
    const id = res.job.job_id;
    if (!res.duplicate) ctx.log.info({ job_id: id, principal: principal.id, state: res.state }, 'job submitted');
    return json(reply, res.duplicate ? 200 : 202, {
      status: res.state === 'awaiting_approval' ? 'awaiting_approval' : 'queued',
      job_id: id,
      artifacts_dir: path.join(ctx.config.paths.artifactsRoot, id),
      status_url: statusUrl(ctx, id),
      ...(res.duplicate ? { duplicate: true } : {}),
    });
  });
}
