/**
 * Gateway test helpers: a real fastify server on an ephemeral 127.0.0.1 port over a throwaway
 * ORCHESTRATOR_HOME (optionally with an in-process runner), a small HTTP client, a recursive
 * listing of var/ to prove that rejected requests write nothing, and a strict Prometheus text
 * exposition parser.
 */
import { createHmac } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { readSseMessages, type SseMessage as FeedMessage } from '../../cli/sse-client.ts';
import { createGateway, type Gateway } from '../../gateway/server.ts';
import { loadConfig } from '../../lib/config.ts';
import { createRunner, type Runner } from '../../runner/runner.ts';
import { tempHome, type TempHome } from './env.ts';

export const TOKEN = 'test-token-0123456789';
export const SECRET = 'test-webhook-secret';

export interface GatewayHarness {
  home: TempHome;
  gw: Gateway;
  url: string;
  runner: Runner | undefined;
  close(): Promise<void>;
}

/** Rate limiting is off unless a test sets WEBHOOK_RATE_LIMIT_PER_MIN. */
export async function startGateway(opts: { env?: Record<string, string>; runner?: boolean } = {}): Promise<GatewayHarness> {
  const home = await tempHome({ WEBHOOK_TOKEN: TOKEN, WEBHOOK_SECRET: SECRET, WEBHOOK_RATE_LIMIT_PER_MIN: '0', ...opts.env });
  const config = loadConfig(home.env, home.dir);
  const runner = opts.runner ? createRunner({ config }) : undefined;
  if (runner) await runner.start();
  const gw = createGateway({ config, ...(runner ? { runner } : {}) });
  const { url } = await gw.listen({ host: '127.0.0.1', port: 0 });
  return {
    home: { ...home, config },
    gw,
    url,
    runner,
    async close() {
      await gw.close();
      if (runner) await runner.stop({ force: true });
      await home.cleanup();
    },
  };
}

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  body: unknown;
}

export async function http(url: string, method: string, p: string, opts: { body?: string | Uint8Array; headers?: Record<string, string> } = {}): Promise<HttpResult> {
  const res = await fetch(url + p, { method, headers: opts.headers ?? {}, ...(opts.body !== undefined ? { body: opts.body } : {}) });
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, text, body };
}

export const auth = (token = TOKEN): Record<string, string> => ({ authorization: `Bearer ${token}` });
export const jsonHeaders = (token = TOKEN): Record<string, string> => ({ ...auth(token), 'content-type': 'application/json' });

export function postJob(h: GatewayHarness, job: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
  return http(h.url, 'POST', '/webhook', { body: JSON.stringify(job), headers: { ...jsonHeaders(), ...headers } });
}

export function hubSignature(body: string | Uint8Array, secret = SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Every file and directory under `dir`, relative and sorted (empty when it does not exist). */
export function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      out.push(path.relative(dir, p) + (e.isDirectory() ? '/' : ''));
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

/**
 * var/ and artifacts/ of a harness: what a rejected request must leave unchanged. Not the
 * runners' heartbeat files (var/queue/runners/*): the harness's runner rewrites its own every
 * 200 ms (a temp file beside it for an instant), whatever the requests do.
 */
export function written(h: GatewayHarness): string[] {
  const vars = tree(h.home.config.paths.varRoot).filter((p) => !p.startsWith('queue/runners/') || p === 'queue/runners/');
  return [...vars.map((p) => `var/${p}`), ...tree(h.home.config.paths.artifactsRoot).map((p) => `artifacts/${p}`)];
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parse Prometheus text exposition format 0.0.4, strictly: every line is a HELP, a TYPE or a
 * sample of a declared family; label values are quoted with the allowed escapes. Throws on
 * anything else.
 */
export function parsePrometheus(text: string): { samples: Sample[]; types: Map<string, string> } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const sampleRe = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (-?(?:[0-9.]+(?:e[+-]?[0-9]+)?|\\+Inf|-Inf|NaN))(?: -?[0-9]+)?$`);
  const labelRe = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(?:,|$)/;
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) {
      if (!new RegExp(`^# HELP ${NAME} .*$`).test(line)) throw new Error(`bad HELP line: ${line}`);
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const m = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
      if (!m?.[1] || !m[2]) throw new Error(`bad TYPE line: ${line}`);
      types.set(m[1], m[2]);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = sampleRe.exec(line);
    if (!m?.[1] || m[3] === undefined) throw new Error(`bad sample line: ${line}`);
    const labels: Record<string, string> = {};
    let rest = m[2] ?? '';
    while (rest.length) {
      const lm = labelRe.exec(rest);
      if (!lm?.[1] || lm[2] === undefined) throw new Error(`bad labels in: ${line}`);
      labels[lm[1]] = lm[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      rest = rest.slice(lm[0].length);
    }
    const name = m[1];
    const family = [...types.keys()].find((t) => name === t || name === `${t}_bucket` || name === `${t}_sum` || name === `${t}_count`);
    if (!family) throw new Error(`sample ${name} has no TYPE line before it`);
    samples.push({ name, labels, value: Number(m[3].replace('+Inf', 'Infinity').replace('-Inf', '-Infinity')) });
  }
  return { samples, types };
}

export function metricValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

/** A feed message as the tests see it: `data` is '' when the message carries none. */
export type SseMessage = FeedMessage & { data: string };

/**
 * Read an SSE response to its end with the CLI's own parser (what `logs --follow` reads): the
 * messages that carry an event or data, as {id, event, data}.
 */
export async function readSse(res: Response, opts: { onMessage?: (m: SseMessage) => void } = {}): Promise<SseMessage[]> {
  const out: SseMessage[] = [];
  for await (const feed of readSseMessages(res.body!)) {
    if (!feed.event && feed.data === undefined) continue;
    const m: SseMessage = { ...feed, data: feed.data ?? '' };
    out.push(m);
    opts.onMessage?.(m);
  }
  return out;
}
