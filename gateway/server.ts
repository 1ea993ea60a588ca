/**
 * The HTTP gateway (fastify): `createGateway({config, logger, runner?, now?})` → `{app, listen,
 * close}`. `orchestrator gateway` runs it alone; `orchestrator serve` gives it the in-process
 * runner, whose events then feed the metrics, the SSE wake-ups and the completion callbacks.
 *
 * Invariants:
 * - Every JSON body is received as raw bytes (one content-type parser, application/json only:
 *   anything else is a 415) and parsed by us, strictly; no fastify/ajv coercion or stripping.
 * - Every error reply is `{error: {code, message, issues}}` with the status of its registry code;
 *   expected bad input is never a 5xx and no reply carries a stack.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { createQueue } from '../fsqueue/queue.ts';
import { Leases } from '../fsqueue/lease.ts';
import type { Config } from '../lib/config.ts';
import { OrchestratorError, errorMessage } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import type { Runner } from '../runner/runner.ts';
import { Authenticator } from './auth.ts';
import { assertJsonCharset } from './body.ts';
import { CallbackDispatcher } from './callbacks.ts';
import type { GatewayContext } from './context.ts';
import { sendError, toOrchestratorError } from './errors.ts';
import { createMetrics, type GatewayMetrics } from './metrics.ts';
import { registerArtifactRoutes } from './routes/artifacts.ts';
import { registerBudgetRoute } from './routes/budget.ts';
import { registerJobRoutes } from './routes/jobs.ts';
import { registerOpsRoutes, type HealthExtra } from './routes/ops.ts';
import { registerUiRoutes } from './routes/ui.ts';
import { registerWebhookRoute } from './routes/webhook.ts';
import { SseHub } from './sse.ts';
import { SessionStore, type SessionStoreOptions } from './ui/sessions.ts';

export interface GatewayOptions {
  config: Config;
  logger?: Logger;
  /** An in-process runner (serve): metrics counters, SSE wake-ups and callbacks follow its events. */
  runner?: Runner;
  /** More sections for /health (e.g. `{scheduler}`). */
  health?: Record<string, HealthExtra>;
  now?: () => Date;
  /** Body limit of the other JSON routes (approve, reject, cancel). */
  controlBodyLimit?: number;
  /** The dashboard's sessions (idle and absolute lifetime, how many at most). */
  ui?: Omit<SessionStoreOptions, 'now'>;
}

export interface Gateway {
  app: FastifyInstance;
  metrics: GatewayMetrics;
  callbacks: CallbackDispatcher;
  /** Listen on HOST:PORT (or the given ones; port 0 = ephemeral). */
  listen(opts?: { host?: string; port?: number }): Promise<{ url: string; host: string; port: number }>;
  close(): Promise<void>;
}

/** Refuse to start with dev credentials in production, or with a scope that names no known project. */
export function assertGatewayConfig(config: Config): void {
  const w = config.webhook;
  if (config.production) {
    if (w.token !== null && w.tokenIsDevDefault) throw new OrchestratorError('E_CONFIG', 'WEBHOOK_TOKEN is the dev default "dev-token": refused with NODE_ENV=production; set a long random token', { variable: 'WEBHOOK_TOKEN' });
    if (!w.token && w.scopedTokens.length === 0 && !w.secret) throw new OrchestratorError('E_CONFIG', 'no webhook credentials: set WEBHOOK_TOKEN, WEBHOOK_TOKENS or WEBHOOK_SECRET (NODE_ENV=production)', { variable: 'WEBHOOK_TOKEN' });
    for (const t of [w.token, ...w.scopedTokens.map((s) => s.token), w.secret]) {
      if (t !== null && t.length < 16) throw new OrchestratorError('E_CONFIG', 'webhook tokens and WEBHOOK_SECRET must be at least 16 characters with NODE_ENV=production', { variable: 'WEBHOOK_TOKENS' });
    }
  }
  const seen = new Set<string>(w.token ? [w.token] : []);
  w.scopedTokens.forEach((s, i) => {
    if (seen.has(s.token)) throw new OrchestratorError('E_CONFIG', `WEBHOOK_TOKENS entry #${i + 1} repeats a token (each token has one scope)`, { variable: 'WEBHOOK_TOKENS' });
    seen.add(s.token);
    for (const p of s.projects === '*' ? [] : s.projects) {
      if (!Object.hasOwn(config.projectAliases, p)) throw new OrchestratorError('E_CONFIG', `WEBHOOK_TOKENS entry #${i + 1} names project ${JSON.stringify(p)}, which is not in PROJECT_ALIASES`, { variable: 'WEBHOOK_TOKENS' });
    }
  });
}

export function createGateway(opts: GatewayOptions): Gateway {
  const { config } = opts;
  assertGatewayConfig(config);
  const log = opts.logger ?? silentLogger();
  const now = opts.now ?? (() => new Date());
  const queue = opts.runner?.queue ?? createQueue(config.paths.queueRoot);
  const leases = new Leases(config.paths.queueRoot);
  const metrics = createMetrics({ queue, leases, staleMs: config.leaseStaleMs, now: () => now().getTime() });
  const callbacks = new CallbackDispatcher({ config, log, metrics, now });
  const detach: Array<() => void> = [];
  if (opts.runner) {
    detach.push(metrics.attach(opts.runner.events));
    detach.push(callbacks.attach(opts.runner.events));
  }
  // deliveries left in the outbox by a process that stopped or died, and those recorded outside
  // any runner event (a cancel or reject through this API, an `orchestrator cancel`)
  callbacks.startResuming();
  const ctx: GatewayContext = {
    config,
    log,
    queue,
    leases,
    auth: new Authenticator(config.webhook),
    metrics,
    sse: new SseHub(),
    events: opts.runner?.events,
    callbacks,
    sessions: new SessionStore({ ...opts.ui, now: () => now().getTime() }),
    now,
  };

  const app = Fastify({
    logger: false,
    bodyLimit: opts.controlBodyLimit ?? 64 * 1024,
    trustProxy: config.http.trustProxy,
    return503OnClosing: true,
    // a client must send its whole request within 30 s (slow-body clients); responses (SSE) are not limited
    requestTimeout: 30_000,
    // no route here validates with fastify's ajv; if one ever does, it must not coerce or strip
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: true } },
    // router-level errors (malformed URL encoding, a parameter longer than maxParamLength) get our error body too
    frameworkErrors: (err, _req, reply) => {
      const code = (err as { code?: string }).code;
      const message = code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a URL parameter is too long' : code === 'FST_ERR_BAD_URL' ? 'malformed URL' : 'bad request';
      return sendError(reply, new OrchestratorError('E_BAD_INPUT', message, { issues: [{ path: 'url', message }] }));
    },
  });
  app.decorateRequest('principal', null);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    try {
      assertJsonCharset(req.headers['content-type']);
      done(null, body);
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.setErrorHandler((err, req, reply) => {
    let e = toOrchestratorError(err);
    const fst = e.details.fastify_code;
    if (fst === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      e = new OrchestratorError('E_UNSUPPORTED_MEDIA', `Content-Type ${JSON.stringify(req.headers['content-type']?.slice(0, 100) ?? null)} is not supported: send application/json`);
    } else if (fst === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      e = new OrchestratorError('E_PAYLOAD_TOO_LARGE', `body larger than ${req.routeOptions.bodyLimit ?? '?'} bytes (MAX_WEBHOOK_BODY_BYTES for /webhook)`);
    }
    if (e.httpStatus >= 500) log.error({ method: req.method, url: req.url.split('?')[0], code: e.code, err: errorMessage(err) }, 'request failed');
    return sendError(reply, e);
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, new OrchestratorError('E_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]?.slice(0, 200)}`)));

  app.addHook('onResponse', async (req, reply) => {
    const line = { method: req.method, url: req.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime), principal: req.principal?.id };
    if (req.method === 'GET' || req.method === 'HEAD') log.debug(line, 'request');
    else log.info(line, 'request');
  });
  app.addHook('onReady', async () => {
    await queue.init();
    await leases.init();
  });
  app.addHook('preClose', async () => ctx.sse.closeAll());

  registerWebhookRoute(app, ctx);
  registerJobRoutes(app, ctx);
  registerArtifactRoutes(app, ctx);
  registerOpsRoutes(app, ctx, opts.health);
  registerBudgetRoute(app, ctx);
  if (ctx.sessions) registerUiRoutes(app, ctx, { sessions: ctx.sessions, ...(opts.health ? { health: opts.health } : {}) });

  return {
    app,
    metrics,
    callbacks,
    async listen(l = {}) {
      const host = l.host ?? config.http.host;
      const port = l.port ?? config.http.port;
      await app.listen({ host, port });
      const addr = app.server.address();
      const bound = addr && typeof addr === 'object' ? addr.port : port;
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
      log.info({ url }, 'gateway listening');
      return { url, host, port: bound };
    },
    async close() {
      for (const d of detach.splice(0)) d();
      ctx.sse.closeAll();
      ctx.sessions?.clear();
      await app.close();
      await callbacks.close();
    },
  };
}
