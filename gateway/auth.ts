/**
 * Who is calling: bearer tokens (WEBHOOK_TOKEN, the scoped WEBHOOK_TOKENS) and GitHub-style HMAC
 * signatures (X-Hub-Signature-256 with WEBHOOK_SECRET). Pure: no IO, no clock.
 *
 * Invariants:
 * - Every comparison is constant-time over fixed-length digests (timingSafeEqual throws on
 *   different lengths, which would turn a wrong credential into a 500).
 * - A presented token is compared against every configured token (no early exit on a match).
 * - A principal never carries the secret it was matched with, only a fingerprint.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { ScopedToken } from '../lib/config.ts';

export interface Principal {
  /** Stable, secret-free name for logs and `approved by` lines: `token:<fingerprint>` or `hmac`. */
  id: string;
  kind: 'token' | 'hmac';
  /** Projects this caller may submit for and act on; '*' = all (and jobs with no project). */
  projects: string[] | '*';
}

interface TokenEntry {
  digest: Buffer;
  principal: Principal;
}

const sha256 = (s: string | Buffer): Buffer => createHash('sha256').update(s).digest();

export function fingerprint(secret: string): string {
  return sha256(secret).toString('hex').slice(0, 10);
}

export class Authenticator {
  private readonly tokens: TokenEntry[];
  private readonly secret: Buffer | null;

  constructor(cfg: { token: string | null; scopedTokens: ScopedToken[]; secret: string | null }) {
    const entries: TokenEntry[] = [];
    if (cfg.token) entries.push({ digest: sha256(cfg.token), principal: { id: `token:${fingerprint(cfg.token)}`, kind: 'token', projects: '*' } });
    for (const t of cfg.scopedTokens) {
      entries.push({ digest: sha256(t.token), principal: { id: `token:${fingerprint(t.token)}`, kind: 'token', projects: t.projects } });
    }
    this.tokens = entries;
    this.secret = cfg.secret ? Buffer.from(cfg.secret, 'utf8') : null;
  }

  get acceptsSignatures(): boolean {
    return this.secret !== null;
  }

  get hasCredentials(): boolean {
    return this.tokens.length > 0 || this.secret !== null;
  }

  /** The principal of a bearer token, or undefined (unknown token). Constant time in the token. */
  matchToken(token: string): Principal | undefined {
    const d = sha256(token);
    let found: Principal | undefined;
    for (const e of this.tokens) {
      if (timingSafeEqual(d, e.digest) && !found) found = e.principal;
    }
    return found;
  }

  /** Does `header` (`sha256=<64 hex>`) sign `body` with WEBHOOK_SECRET? */
  verifySignature(body: Buffer, header: string | undefined): Principal | undefined {
    if (!this.secret || header === undefined) return undefined;
    const m = /^sha256=([0-9a-fA-F]{64})$/.exec(header.trim());
    if (!m?.[1]) return undefined;
    const given = Buffer.from(m[1], 'hex');
    const expected = createHmac('sha256', this.secret).update(body).digest();
    return given.length === expected.length && timingSafeEqual(given, expected) ? { id: 'hmac', kind: 'hmac', projects: '*' } : undefined;
  }
}

/** `Authorization: Bearer <token>` → the token; undefined when absent or another scheme. */
export function parseBearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(header);
  return m?.[1];
}

/** `sha256=<hex>` of HMAC-SHA256(secret, body): what GitHub sends and what our callbacks carry. */
export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function mayAccessProject(p: Principal, projectId: string | undefined): boolean {
  if (p.projects === '*') return true;
  return projectId !== undefined && p.projects.includes(projectId);
}
