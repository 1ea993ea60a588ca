/**
 * The dashboard's cookie as a credential of the API routes that opt in (`requireAuth(ctx,
 * {session: true})`: /jobs..., /budget). A bearer token always wins over the cookie; the webhook
 * never accepts it.
 *
 * Invariants:
 * - A request whose cookie names no live session is a 401 (log in again), never anonymous.
 * - A state-changing request (anything but GET/HEAD/OPTIONS) authenticated by the cookie needs
 *   the session's CSRF token in X-Orchestrator-CSRF, and is refused when the browser says it
 *   comes from another site (Sec-Fetch-Site), whatever the cookie's SameSite did.
 */
import type { FastifyRequest } from 'fastify';
import { OrchestratorError } from '../../lib/errors.ts';
import { CSRF_HEADER, SESSION_COOKIE, cookieValue, csrfMatches, type SessionStore, type UiSession } from './sessions.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function sessionIdOf(req: FastifyRequest): string | undefined {
  return cookieValue(header(req, 'cookie'), SESSION_COOKIE);
}

/** The session of the request's cookie; undefined when there is no cookie; throws when it is not acceptable. */
export function authenticateSession(store: SessionStore, req: FastifyRequest): UiSession | undefined {
  const id = sessionIdOf(req);
  if (id === undefined) return undefined;
  const s = store.get(id);
  if (!s) throw new OrchestratorError('E_UNAUTHORIZED', 'the dashboard session has expired or is unknown: log in again at /ui');
  if (!SAFE_METHODS.has(req.method)) {
    const site = header(req, 'sec-fetch-site');
    if (site !== undefined && site !== 'same-origin') throw new OrchestratorError('E_FORBIDDEN', `cross-site request refused (Sec-Fetch-Site: ${site.slice(0, 40)})`);
    if (!csrfMatches(s, header(req, CSRF_HEADER))) throw new OrchestratorError('E_FORBIDDEN', 'missing or wrong X-Orchestrator-CSRF header: a change made with the dashboard session needs the csrf token of GET /ui/session');
  }
  return s;
}
