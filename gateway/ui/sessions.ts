/**
 * Browser sessions of the dashboard (/ui). A person logs in once with a bearer token; the gateway
 * keeps a server-side session and the browser holds only its random id, in an HttpOnly,
 * SameSite=Strict cookie. Nothing secret ever travels in a URL.
 *
 * Invariants:
 * - A session id is 32 random bytes (base64url). The store keys sessions by the id's SHA-256, so
 *   what sits in memory (or a heap dump) is not a usable cookie.
 * - A session carries the principal of the token it was opened with (the same project scope as
 *   the API), never the token itself.
 * - Every session ends: after `idleMs` without a request, after `maxAgeMs` in any case, and the
 *   oldest goes first when more than `maxSessions` are open (memory is bounded).
 * - A state-changing request authenticated by the cookie must carry `X-Orchestrator-CSRF` equal to
 *   its session's CSRF token (compared in constant time). SameSite=Strict already keeps the cookie
 *   off cross-site requests; the header is the second, independent lock.
 * Pure apart from the injected clock and random source.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Principal } from '../auth.ts';

export const SESSION_COOKIE = 'orchestrator_session';
export const CSRF_HEADER = 'x-orchestrator-csrf';
const ID_RE = /^[A-Za-z0-9_-]{43}$/;

export interface UiSession {
  principal: Principal;
  /** Who the person said they are at login (recorded as `by` of approvals), or null. */
  name: string | null;
  csrf: string;
  createdAt: number;
  lastSeenAt: number;
}

export interface SessionStoreOptions {
  /** Ends a session after this long without a request (default 8 h). */
  idleMs?: number;
  /** Ends a session this long after login whatever happens (default 24 h). */
  maxAgeMs?: number;
  maxSessions?: number;
  now?: () => number;
  random?: (bytes: number) => Buffer;
}

const hashId = (id: string): string => createHash('sha256').update(id).digest('base64url');

export class SessionStore {
  private readonly sessions = new Map<string, UiSession>();
  readonly idleMs: number;
  readonly maxAgeMs: number;
  private readonly maxSessions: number;
  private readonly now: () => number;
  private readonly random: (bytes: number) => Buffer;

  constructor(opts: SessionStoreOptions = {}) {
    this.idleMs = opts.idleMs ?? 8 * 3600_000;
    this.maxAgeMs = opts.maxAgeMs ?? 24 * 3600_000;
    this.maxSessions = opts.maxSessions ?? 10_000;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? randomBytes;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Open a session: its id (for the cookie, never stored as is) and the session. */
  create(principal: Principal, name: string | null = null): { id: string; session: UiSession } {
    const now = this.now();
    this.sweep(now);
    const id = this.random(32).toString('base64url');
    const session: UiSession = { principal, name, csrf: this.random(32).toString('base64url'), createdAt: now, lastSeenAt: now };
    this.sessions.set(hashId(id), session);
    // Map order is insertion order: the first keys are the oldest sessions
    for (const k of this.sessions.keys()) {
      if (this.sessions.size <= this.maxSessions) break;
      this.sessions.delete(k);
    }
    return { id, session };
  }

  /** The live session of a cookie value (and it counts as activity), or undefined. */
  get(id: string | undefined): UiSession | undefined {
    if (id === undefined || !ID_RE.test(id)) return undefined;
    const key = hashId(id);
    const s = this.sessions.get(key);
    if (!s) return undefined;
    const now = this.now();
    if (this.expired(s, now)) {
      this.sessions.delete(key);
      return undefined;
    }
    s.lastSeenAt = now;
    return s;
  }

  /** When this session ends if nothing else happens (ms since the epoch). */
  expiresAt(s: UiSession): number {
    return Math.min(s.lastSeenAt + this.idleMs, s.createdAt + this.maxAgeMs);
  }

  destroy(id: string | undefined): boolean {
    if (id === undefined || !ID_RE.test(id)) return false;
    return this.sessions.delete(hashId(id));
  }

  clear(): void {
    this.sessions.clear();
  }

  private expired(s: UiSession, now: number): boolean {
    return now >= this.expiresAt(s);
  }

  private sweep(now: number): void {
    for (const [k, s] of this.sessions) if (this.expired(s, now)) this.sessions.delete(k);
  }
}

/** Does the request's CSRF header match the session's token? Constant time over SHA-256 digests. */
export function csrfMatches(session: UiSession, given: string | undefined): boolean {
  if (given === undefined || given.length === 0 || given.length > 200) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(session.csrf).digest();
  return timingSafeEqual(a, b);
}

/** The value of one cookie in a Cookie header (the first one of that name), or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Set-Cookie for a session id: HttpOnly, SameSite=Strict, Path=/ (the API routes need it too). */
export function sessionCookie(id: string, opts: { maxAgeSec: number; secure: boolean }): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.max(0, Math.floor(opts.maxAgeSec))}${opts.secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`;
}
