/**
 * The dashboard: GET /ui (one page and its static files, gateway/ui/assets.ts), and its session
 * routes: POST /ui/login (a bearer token, as JSON or a form → a session cookie), GET /ui/session
 * (who is logged in, and the CSRF token the page sends with every change), POST /ui/logout, and
 * GET /ui/health (/health's report, with credentials: a proxy may keep /health for monitoring
 * only, as deploy/nginx does). The rest of the page's data comes from the ordinary API routes
 * (/jobs..., /budget), which accept the session cookie in place of a bearer token: one
 * implementation of scope and behaviour.
 *
 * Invariants:
 * - Every /ui response carries the strict Content-Security-Policy (UI_CSP) and nosniff; session
 *   replies are never cached.
 * - A login is refused from another site (Origin / Sec-Fetch-Site), and failed logins of one
 *   client address are rate limited; the token is compared like every bearer token (constant
 *   time) and never echoed, logged or stored.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OrchestratorError } from '../../lib/errors.ts';
import { decodeJsonBody } from '../body.ts';
import { json, requireAuth, type GatewayContext } from '../context.ts';
import { RateLimiter } from '../rate-limit.ts';
import { UI_CSP, loadUiAssets, type UiAsset } from '../ui/assets.ts';
import { authenticateSession, sessionIdOf } from '../ui/session-auth.ts';
import { clearedSessionCookie, sessionCookie, type SessionStore, type UiSession } from '../ui/sessions.ts';
import { controlBody } from './jobs.ts';
import { healthReport, type HealthExtra } from './ops.ts';

export interface UiRouteOptions {
  sessions: SessionStore;
  /** URL path → file; default: the `ui/` folder. */
  assets?: Map<string, UiAsset>;
  /** Login attempts per minute per client address (default 20). */
  loginPerMin?: number;
  /** The /health extras (scheduler...), for /ui/health. */
  health?: Record<string, HealthExtra>;
}

const FORM = 'application/x-www-form-urlencoded';

function uiHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', UI_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin');
}

function firstHeader(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A login must come from this origin: a browser says where a request comes from (Origin, Sec-Fetch-Site). */
function assertSameOrigin(req: FastifyRequest): void {
  const site = firstHeader(req, 'sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new OrchestratorError('E_FORBIDDEN', `cross-site login refused (Sec-Fetch-Site: ${site.slice(0, 40)})`);
  const origin = firstHeader(req, 'origin');
  if (origin === undefined || origin === 'null') return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new OrchestratorError('E_FORBIDDEN', 'malformed Origin header');
  }
  if (host !== firstHeader(req, 'host')) throw new OrchestratorError('E_FORBIDDEN', 'cross-origin login refused (Origin does not match Host)');
}

/** The login body, JSON `{token, name?}` or a form `token=...&name=...`, strictly. */
function loginBody(req: FastifyRequest): { token: string; name: string | null; form: boolean } {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  let raw: unknown;
  const form = type === FORM;
  if (form) {
    const params = new URLSearchParams(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '');
    const obj: Record<string, string> = {};
    for (const [k, v] of params) obj[k] = v;
    raw = obj;
  } else {
    raw = decodeJsonBody(req.body, { contentType: req.headers['content-type'], required: true });
  }
  const body = controlBody(raw, { token: 'string', name: 'string' });
  if (typeof body.token !== 'string' || body.token.length === 0) throw new OrchestratorError('E_SCHEMA', 'the token is required', { issues: [{ path: '$.token', message: 'required' }] });
  // eslint-disable-next-line no-control-regex
  const name = typeof body.name === 'string' ? body.name.replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, 100) : '';
  return { token: body.token, name: name || null, form };
}

function sessionView(store: SessionStore, s: UiSession): Record<string, unknown> {
  return {
    principal: { id: s.principal.id, projects: s.principal.projects },
    name: s.name,
    csrf: s.csrf,
    expires_at: new Date(store.expiresAt(s)).toISOString(),
  };
}

export function registerUiRoutes(app: FastifyInstance, ctx: GatewayContext, opts: UiRouteOptions): void {
  const store = opts.sessions;
  const assets = opts.assets ?? loadUiAssets();
  const limiter = new RateLimiter({ perMin: opts.loginPerMin ?? 20, burst: opts.loginPerMin ?? 20, now: () => ctx.now().getTime() });
  const secure = (req: FastifyRequest): boolean => req.protocol === 'https' || (ctx.config.http.publicUrl ?? '').startsWith('https:');

  const serveAsset = async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const asset = assets.get(req.url.split('?')[0] ?? '');
    if (!asset) throw new OrchestratorError('E_NOT_FOUND', `no dashboard file ${JSON.stringify((req.url.split('?')[0] ?? '').slice(0, 200))}`);
    uiHeaders(reply).header('etag', asset.etag).header('cache-control', 'no-cache');
    if (firstHeader(req, 'if-none-match') === asset.etag) return reply.code(304).send();
    return reply.code(200).type(asset.type).send(asset.body);
  };
  app.get('/ui', serveAsset);
  app.get('/ui/*', serveAsset);

  // a form login needs the form content type, which only this scope parses (the rest of the API takes JSON only)
  void app.register(async (scope) => {
    scope.addContentTypeParser(FORM, { parseAs: 'buffer', bodyLimit: 8 * 1024 }, (_req, body, done) => done(null, body));
    scope.post('/ui/login', { bodyLimit: 8 * 1024 }, async (req, reply) => {
      uiHeaders(reply).header('cache-control', 'no-store');
      const rl = limiter.take(req.ip);
      if (!rl.ok) {
        reply.header('retry-after', String(rl.retryAfterSec));
        throw new OrchestratorError('E_RATE_LIMITED', `too many login attempts from this address; retry in ${rl.retryAfterSec} s`);
      }
      assertSameOrigin(req);
      const body = loginBody(req);
      const principal = ctx.auth.matchToken(body.token);
      if (!principal) {
        if (body.form) return reply.code(303).header('location', '/ui/#login-failed').send();
        throw new OrchestratorError('E_UNAUTHORIZED', 'invalid token');
      }
      store.destroy(sessionIdOf(req)); // a new login replaces the browser's old session (no fixation)
      const { id, session } = store.create(principal, body.name);
      reply.header('set-cookie', sessionCookie(id, { maxAgeSec: store.maxAgeMs / 1000, secure: secure(req) }));
      ctx.log.info({ principal: principal.id, ip: req.ip }, 'dashboard login');
      if (body.form) return reply.code(303).header('location', '/ui/').send();
      return json(reply, 200, sessionView(store, session));
    });
  });

  app.get('/ui/session', async (req, reply) => {
    uiHeaders(reply).header('cache-control', 'no-store');
    const s = authenticateSession(store, req);
    if (!s) throw new OrchestratorError('E_UNAUTHORIZED', 'not logged in: POST /ui/login with a token');
    return json(reply, 200, sessionView(store, s));
  });

  // always 200: the page shows `ok: false` (no live runner) itself, without a failed request in the console
  app.get('/ui/health', { onRequest: requireAuth(ctx, { session: true }) }, async (_req, reply) => {
    uiHeaders(reply).header('cache-control', 'no-store');
    return json(reply, 200, await healthReport(ctx, opts.health));
  });

  app.post('/ui/logout', async (req, reply) => {
    uiHeaders(reply).header('cache-control', 'no-store');
    let s: UiSession | undefined;
    try {
      s = authenticateSession(store, req);
    } catch (err) {
      // an expired session is logged out already; a missing CSRF header is not a logout
      if (!(err instanceof OrchestratorError && err.code === 'E_UNAUTHORIZED')) throw err;
    }
    if (s) store.destroy(sessionIdOf(req));
    reply.header('set-cookie', clearedSessionCookie(secure(req)));
    return json(reply, 200, { ok: true });
  });
}
