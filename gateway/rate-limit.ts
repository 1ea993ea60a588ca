/**
 * Per-client token buckets for POST /webhook (WEBHOOK_RATE_LIMIT_PER_MIN sustained,
 * WEBHOOK_RATE_LIMIT_BURST at once). Pure apart from the injected clock; memory is bounded:
 * full buckets are forgotten (a forgotten client starts full, which is what it would be anyway).
 */

export type TakeResult = { ok: true; remaining: number } | { ok: false; retryAfterSec: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;

  constructor(
    private readonly opts: { perMin: number; burst: number; now?: () => number; maxKeys?: number },
  ) {
    this.perMs = opts.perMin / 60_000;
  }

  get enabled(): boolean {
    return this.opts.perMin > 0;
  }

  take(key: string): TakeResult {
    if (!this.enabled) return { ok: true, remaining: Infinity };
    const now = (this.opts.now ?? Date.now)();
    const b = this.buckets.get(key) ?? { tokens: this.opts.burst, at: now };
    const tokens = Math.min(this.opts.burst, b.tokens + Math.max(0, now - b.at) * this.perMs);
    if (tokens < 1) {
      this.buckets.set(key, { tokens, at: now });
      return { ok: false, retryAfterSec: Math.max(1, Math.ceil((1 - tokens) / this.perMs / 1000)) };
    }
    this.buckets.set(key, { tokens: tokens - 1, at: now });
    if (this.buckets.size > (this.opts.maxKeys ?? 10_000)) this.sweep(now);
    return { ok: true, remaining: Math.floor(tokens - 1) };
  }

  private sweep(now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.perMs >= this.opts.burst) this.buckets.delete(k);
    }
    // still too many distinct clients: drop the oldest (Map keeps insertion order)
    const max = this.opts.maxKeys ?? 10_000;
    for (const k of this.buckets.keys()) {
      if (this.buckets.size <= max) break;
      this.buckets.delete(k);
    }
  }
}
