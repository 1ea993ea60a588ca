/**
 * Completion callbacks: when a job ends or parks for a human, POST a small JSON document to its
 * `callback_url`, signed with HMAC-SHA256 (`X-Orchestrator-Signature: sha256=<hex>` over the raw
 * body, CALLBACK_SECRET), retried with exponential backoff; every attempt is a line in the job's
 * logs.txt.
 *
 * Invariants:
 * - The runner is never blocked: event listeners only enqueue; delivery runs on its own timers,
 *   with a per-attempt timeout and a cap on concurrent requests.
 * - The body is identical across attempts (so is its signature); the attempt number is a header.
 * - Redirects are not followed; 2xx is success; 4xx other than 408/429 is final.
 * - Nothing is lost: the runner (and recovery) records a job's delivery in the outbox
 *   `var/callbacks/<delivery_id>.json` before moving the job (runner/callback-outbox.ts); this
 *   dispatcher delivers it when the event arrives and removes it once final (delivered, or given
 *   up). One still there when the process stops (or dies) is resumed by the next dispatcher that
 *   starts (`resume()`), once its owner process is gone. Delivery is at least once, and the id is
 *   the same for the same closing of a job: receivers dedupe on `delivery_id`.
 */
import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NormalizedJob } from '../contracts/index.ts';
import { jobFilePath } from '../fsqueue/states.ts';
import type { Config } from '../lib/config.ts';
import { errnoCode, errorMessage } from '../lib/errors.ts';
import { lstatOrUndefined, readJsonIfExists, writeJsonAtomic } from '../lib/fsutil.ts';
import { pidAlive } from '../lib/proc.ts';
import type { Logger } from '../lib/logger.ts';
import { JobArtifacts } from '../runner/artifacts.ts';
import { callbackFor, outboxDir, outboxFile, payloadLinks, thisOwner, writeOutboxEntry, type CallbackPayload, type OutboxEntry } from '../runner/callback-outbox.ts';
import type { JobState } from '../runner/state.ts';
import type { RunnerEvents } from '../runner/events.ts';
import { signBody } from './auth.ts';
import type { GatewayMetrics } from './metrics.ts';

export type { CallbackEventName, CallbackPayload } from '../runner/callback-outbox.ts';

export type CallbackNotice = Omit<CallbackPayload, 'delivery_id' | 'created_at' | 'status_url' | 'artifacts_dir' | 'duration_ms' | 'cost_usd' | 'waiting'> &
  Partial<Pick<CallbackPayload, 'duration_ms' | 'cost_usd' | 'waiting'>>;

export interface CallbackDispatcherOptions {
  config: Config;
  log: Logger;
  metrics?: GatewayMetrics;
  now?: () => Date;
  fetch?: typeof fetch;
  /** Concurrent HTTP requests at most (default 8). */
  concurrency?: number;
  /** How often startResuming() looks for deliveries nobody is making (default 10 s). */
  resumeEveryMs?: number;
}

const MAX_BACKOFF_MS = 5 * 60_000;
/** Delivery ids a dispatcher remembers as final, so that the same closing announced again is not sent again. */
const FINISHED_IDS_KEPT = 1000;
/** How old this process's own outbox entry must be before resume() takes it (see there). */
const OWN_ENTRY_GRACE_MS = 5_000;

/** Is a live process of this host other than this one the entry's owner (delivering it)? */
function deliveredElsewhere(entry: OutboxEntry): boolean {
  const o = entry.owner;
  return o.host === os.hostname() && o.pid !== process.pid && pidAlive(o.pid);
}

/** Pure: may this outcome be retried? */
export function retryable(status: number | 'network' | 'timeout'): boolean {
  if (status === 'network' || status === 'timeout') return true;
  return status === 408 || status === 429 || status >= 500;
}

/** Pure: delay before attempt `next` (2, 3, ...), honouring a Retry-After in seconds. */
export function backoffMs(baseMs: number, next: number, retryAfterSec?: number): number {
  const exp = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.max(0, next - 2));
  return retryAfterSec !== undefined && Number.isFinite(retryAfterSec) ? Math.min(MAX_BACKOFF_MS, Math.max(exp, retryAfterSec * 1000)) : exp;
}

/** Origin and path only: query strings and user info may carry credentials. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '(invalid url)';
  }
}

export class CallbackDispatcher {
  private readonly now: () => Date;
  private readonly fetchFn: typeof fetch;
  private readonly pending = new Set<Promise<void>>();
  /** Backoff sleeps: cleared (and woken) by close(). */
  private readonly sleeps = new Map<NodeJS.Timeout, () => void>();
  /** Deliveries waiting for a free request slot. */
  private readonly waiters: Array<() => void> = [];
  private inFlight = 0;
  private closed = false;
  /** Aborts requests still in flight when close()'s grace runs out. */
  private readonly abort = new AbortController();

  private readonly outbox: string;
  /** Delivery ids being delivered by this dispatcher, and the last ones it finished (in order). */
  private readonly delivering = new Set<string>();
  private readonly finished = new Set<string>();

  constructor(private readonly opts: CallbackDispatcherOptions) {
    this.now = opts.now ?? (() => new Date());
    this.fetchFn = opts.fetch ?? fetch;
    this.outbox = outboxDir(opts.config);
  }

  private resumeTimer: NodeJS.Timeout | undefined;

  /**
   * resume() now and then every `resumeEveryMs` until close(): deliveries recorded by a process
   * that exited (an `orchestrator cancel`, a runner that died) or by this one outside any event
   * (a cancel through the API) are made within that interval.
   */
  startResuming(): void {
    const pass = (): void => {
      void this.resume()
        .catch((err: unknown) => this.opts.log.warn({ err: errorMessage(err) }, 'cannot resume pending callbacks'))
        .finally(() => {
          if (!this.closed) this.resumeTimer = setTimeout(pass, this.opts.resumeEveryMs ?? 10_000).unref();
        });
    };
    pass();
  }

  /**
   * Deliver what the outbox holds that nobody is delivering: entries whose owner process is gone,
   * and this process's own that no delivery of its own has taken (yet). Returns how many.
   */
  async resume(): Promise<number> {
    const secret = this.opts.config.callbacks.secret;
    let names: string[] = [];
    try {
      names = await fsp.readdir(this.outbox);
    } catch {
      return 0;
    }
    let resumed = 0;
    for (const name of names) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const file = path.join(this.outbox, name);
      const entry = await readJsonIfExists<OutboxEntry>(file).catch(() => undefined);
      if (!entry || !secret || this.closed) continue;
      const id = entry.payload.delivery_id;
      if (this.delivering.has(id) || this.finished.has(id) || deliveredElsewhere(entry)) continue;
      const own = entry.owner.pid === process.pid && entry.owner.host === os.hostname();
      // one of ours just recorded is the event's to deliver (the runner records it before the
      // move, and the event follows the move): only one left behind for a while is taken here
      if (own && this.now().getTime() - Date.parse(entry.payload.created_at) < OWN_ENTRY_GRACE_MS) continue;
      // recorded by a process that died before moving the job: the closing is not committed until
      // recovery completes it (and then records the same entry again if this one were gone)
      if (lstatOrUndefined(jobFilePath(this.opts.config.paths.queueRoot, 'running', entry.payload.job_id))) continue;
      const mine: OutboxEntry = { ...entry, owner: thisOwner() };
      if (!own) await writeJsonAtomic(file, mine, { durable: false });
      const art = new JobArtifacts(this.opts.config.paths.artifactsRoot, entry.payload.job_id);
      if (!own) await this.log(art, `callback ${entry.payload.event} → ${redactUrl(entry.url)} resumed after ${entry.attempts} attempt(s) by pid ${process.pid}`);
      this.track(this.deliverOnce(art, mine, secret));
      resumed++;
    }
    return resumed;
  }

  /** Deliver for every job that finishes or parks in this runner. Listeners only enqueue. */
  attach(events: RunnerEvents): () => void {
    const offs = [
      events.on('job:finished', (d) => this.notify({ event: 'job.finished', job_id: d.job_id, status: d.status, queue_state: d.queue_state, duration_ms: d.duration_ms, cost_usd: d.cost_usd })),
      events.on('job:parked', (d) =>
        this.notify({ event: 'job.awaiting_approval', job_id: d.job_id, status: 'needs_human', queue_state: 'awaiting_approval', waiting: { reason: d.reason, step_id: d.step_id, resume_after: d.resume_after, message: d.message } }),
      ),
      // recovery closes jobs too (a crashed attempt that used up its retries, or parks): it records
      // their callback like the runner does, and this delivers it (the state has the details)
      events.on('job:recovered', (d) => {
        if (d.to === 'awaiting_approval') this.notify({ event: 'job.awaiting_approval', job_id: d.job_id, status: 'needs_human', queue_state: d.to });
        else if (d.to === 'done' || d.to === 'failed') this.notify({ event: 'job.finished', job_id: d.job_id, status: d.to === 'done' ? 'success' : 'failed', queue_state: d.to });
      }),
    ];
    return () => offs.forEach((off) => off());
  }

  /** Queue a delivery if the job has a callback_url. Never throws, never waits. */
  notify(n: CallbackNotice): void {
    if (this.closed) return;
    this.track(this.prepare(n));
  }

  /** Resolves once no delivery is pending (tests, graceful shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Stop: no new deliveries and no more retries; wait up to `graceMs` for requests in flight. */
  async close(graceMs = 5000): Promise<void> {
    this.closed = true;
    clearTimeout(this.resumeTimer);
    for (const [t, wake] of this.sleeps) {
      clearTimeout(t);
      wake();
    }
    this.sleeps.clear();
    const all = Promise.allSettled([...this.pending]);
    await Promise.race([all, new Promise((r) => setTimeout(r, graceMs).unref())]);
    this.abort.abort();
    await all;
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch((err: unknown) => this.opts.log.error({ err: errorMessage(err) }, 'callback delivery failed unexpectedly')).finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  /**
   * The delivery for a job that just closed. From its state.json when it has one: the entry the
   * runner (or recovery) recorded before moving the job, or the same one made now (same id,
   * runner/callback-outbox.ts). From the notice otherwise, with a new id.
   */
  private async prepare(n: CallbackNotice): Promise<void> {
    const { config } = this.opts;
    const art = new JobArtifacts(config.paths.artifactsRoot, n.job_id);
    const job = await readJsonIfExists<NormalizedJob>(art.file('job.json')).catch(() => undefined);
    const url = job?.callback_url;
    if (!job || !url) return;
    const secret = config.callbacks.secret;
    if (!secret) {
      this.opts.metrics?.callbackAttempt('skipped');
      await this.log(art, `callback ${n.event} → ${redactUrl(url)} not sent: CALLBACK_SECRET is not set`);
      return;
    }
    const createdAt = this.now().toISOString();
    const state = await readJsonIfExists<JobState>(art.file('state.json')).catch(() => undefined);
    const fromState = state ? callbackFor(job, state, { config, createdAt }) : null;
    if (fromState && fromState.payload.event === n.event) {
      const id = fromState.payload.delivery_id;
      if (this.delivering.has(id) || this.finished.has(id)) return;
      const recorded = await readJsonIfExists<OutboxEntry>(outboxFile(config, id)).catch(() => undefined);
      if (recorded && deliveredElsewhere(recorded)) return; // another process resumed it first
      const entry: OutboxEntry = recorded ? { ...recorded, owner: thisOwner() } : fromState;
      await writeOutboxEntry(config, entry, { durable: !recorded });
      await this.deliverOnce(art, entry, secret);
      return;
    }
    const payload: CallbackPayload = { duration_ms: null, cost_usd: null, waiting: null, ...n, delivery_id: randomUUID(), created_at: createdAt, ...payloadLinks(config, n.job_id) };
    const entry: OutboxEntry = { url, payload, attempts: 0, owner: thisOwner() };
    await writeOutboxEntry(config, entry);
    await this.deliverOnce(art, entry, secret);
  }

  private entryFile(entry: OutboxEntry): string {
    return outboxFile(this.opts.config, entry.payload.delivery_id);
  }

  /** One delivery at a time per id in this process (an event and a resume can name the same entry). */
  private async deliverOnce(art: JobArtifacts, entry: OutboxEntry, secret: string): Promise<void> {
    const id = entry.payload.delivery_id;
    if (this.delivering.has(id)) return;
    this.delivering.add(id);
    try {
      await this.deliver(art, entry, secret);
    } finally {
      this.delivering.delete(id);
    }
    if (!this.outboxHas(entry)) {
      this.finished.add(id);
      for (const old of this.finished) if (this.finished.size > FINISHED_IDS_KEPT) this.finished.delete(old);
    }
  }

  private outboxHas(entry: OutboxEntry): boolean {
    return lstatOrUndefined(this.entryFile(entry)) !== undefined;
  }

  /** Final outcome: the delivery leaves the outbox. */
  private async done(entry: OutboxEntry): Promise<void> {
    await fsp.rm(this.entryFile(entry), { force: true });
  }

  private async deliver(art: JobArtifacts, entry: OutboxEntry, secret: string): Promise<void> {
    const { callbacks } = this.opts.config;
    const { url, payload } = entry;
    const body = JSON.stringify(payload);
    const signature = signBody(secret, body);
    for (let attempt = entry.attempts + 1; attempt <= callbacks.maxAttempts; attempt++) {
      if (this.closed) {
        await this.log(art, `callback ${payload.event} → ${redactUrl(url)} deferred before attempt ${attempt}: shutting down (kept in the outbox for the next start)`);
        return;
      }
      const started = Date.now();
      let outcome: number | 'network' | 'timeout';
      let detail: string;
      let retryAfter: number | undefined;
      await this.slot();
      try {
        const res = await this.fetchFn(url, {
          method: 'POST',
          redirect: 'manual',
          signal: AbortSignal.any([AbortSignal.timeout(callbacks.timeoutMs), this.abort.signal]),
          headers: {
            'content-type': 'application/json',
            'user-agent': 'agent-orchestrator-callback/1',
            'x-orchestrator-event': payload.event,
            'x-orchestrator-delivery': payload.delivery_id,
            'x-orchestrator-attempt': String(attempt),
            'x-orchestrator-signature': signature,
          },
          body,
        });
        await res.body?.cancel().catch(() => undefined);
        outcome = res.status;
        detail = `HTTP ${res.status}`;
        const ra = Number(res.headers.get('retry-after'));
        if (res.headers.get('retry-after') !== null && Number.isFinite(ra)) retryAfter = ra;
      } catch (err) {
        const name = err instanceof Error ? err.name : '';
        outcome = name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network';
        const cause = err instanceof Error && err.cause ? errnoCode(err.cause) ?? errorMessage(err.cause) : errorMessage(err);
        detail = this.abort.signal.aborted ? 'aborted: shutting down' : outcome === 'timeout' ? `timed out after ${callbacks.timeoutMs} ms` : `network error ${cause}`;
      } finally {
        this.release();
      }
      const took = `${Date.now() - started} ms`;
      const head = `callback ${payload.event} → ${redactUrl(url)} attempt ${attempt}/${callbacks.maxAttempts}`;
      if (typeof outcome === 'number' && outcome >= 200 && outcome < 300) {
        this.opts.metrics?.callbackAttempt('delivered');
        await this.log(art, `${head}: delivered (${detail}, ${took})`);
        await this.done(entry);
        return;
      }
      if (this.abort.signal.aborted) {
        this.opts.metrics?.callbackAttempt('failed');
        await this.log(art, `${head}: ${detail}; interrupted by shutdown (kept in the outbox for the next start)`);
        return;
      }
      entry.attempts = attempt;
      if (!retryable(outcome) || attempt === callbacks.maxAttempts) {
        this.opts.metrics?.callbackAttempt('failed');
        await this.log(art, `${head}: ${detail} (${took}); giving up`);
        this.opts.log.warn({ job_id: payload.job_id, event: payload.event, detail }, 'callback not delivered');
        await this.done(entry);
        return;
      }
      await writeJsonAtomic(this.entryFile(entry), entry, { durable: false }).catch(() => undefined);
      const wait = backoffMs(callbacks.backoffMs, attempt + 1, retryAfter);
      this.opts.metrics?.callbackAttempt('retry');
      await this.log(art, `${head}: ${detail} (${took}); retry in ${wait} ms`);
      await this.sleep(wait);
    }
  }

  private async log(art: JobArtifacts, line: string): Promise<void> {
    await art.appendLog(`${this.now().toISOString()} ${line}`).catch((err: unknown) => this.opts.log.warn({ job_id: art.jobId, err: errorMessage(err) }, 'cannot append to job log'));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      const t = setTimeout(() => {
        this.sleeps.delete(t);
        resolve();
      }, ms);
      this.sleeps.set(t, resolve);
    });
  }

  private async slot(): Promise<void> {
    const max = this.opts.concurrency ?? 8;
    while (this.inFlight >= max) await new Promise<void>((r) => this.waiters.push(r));
    this.inFlight++;
  }

  private release(): void {
    this.inFlight--;
    const w = this.waiters.shift();
    if (w) w();
  }
}
