/**
 * A small fake model server for the real agent CLIs: Anthropic Messages, OpenAI Responses and Chat
 * Completions, and Gemini generateContent, streaming as each CLI asks. It replays scenarios
 * (test/fake-model/script.ts): tool calls that create and edit files, then a final answer; or an
 * error (401, 429 with a reset, 500), or a stalled stream. Listens on 127.0.0.1, ephemeral port,
 * only. Every request is logged (protocol, scenario, what was answered, the key it carried) and the
 * usage it reported is summed, so tests can compare the CLI's report with what was served.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { errorAnthropic, parseAnthropic, replyAnthropic } from './anthropic.ts';
import { errorGemini, parseGemini, replyGemini } from './gemini.ts';
import { parseChat, replyChat } from './openai-chat.ts';
import { errorOpenAi, parseResponses, replyResponses } from './openai-responses.ts';
import { nextReply, scenarioName, USAGE, type Conversation, type FakeError, type FakeScenario, type Reply } from './script.ts';
import { obj, sendJson, startSse, type Json } from './sse.ts';

export type Protocol = 'anthropic' | 'responses' | 'chat' | 'gemini';

export interface RequestRecord {
  protocol: Protocol;
  path: string;
  scenario: string;
  tools: string[];
  /** What was answered: a tool name, 'text', 'error:<status>' or 'stall'. */
  answer: string;
  /** The credential the request carried (x-api-key, Bearer, x-goog-api-key), if any. */
  apiKey: string | null;
  model: string | null;
  cwd: string | null;
  /** User prompts in the conversation: > 1 when a session was resumed. */
  prompts: number;
}

export interface FakeModelServer {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  requests: RequestRecord[];
  /** Tokens reported by successful responses (optionally of one scenario). */
  usage(scenario?: string): { requests: number; input: number; output: number };
  setScenario(name: string, scenario: FakeScenario): void;
  close(): Promise<void>;
}

export interface FakeModelOptions {
  scenarios?: Record<string, FakeScenario>;
  /** Scenario for prompts without a `[fake:<name>]` tag. */
  defaultScenario?: string;
}

function route(path: string): { protocol: Protocol; model?: string; stream?: boolean } | null {
  if (/\/messages$/.test(path)) return { protocol: 'anthropic' };
  if (/\/responses$/.test(path)) return { protocol: 'responses' };
  if (/\/chat\/completions$/.test(path)) return { protocol: 'chat' };
  const g = /\/models\/([^/:]+):(streamGenerateContent|generateContent)$/.exec(path);
  if (g) return { protocol: 'gemini', model: decodeURIComponent(g[1] ?? ''), stream: g[2] === 'streamGenerateContent' };
  return null;
}

function apiKeyOf(req: IncomingMessage): string | null {
  const h = req.headers;
  const bearer = /^Bearer\s+(.+)$/i.exec(String(h.authorization ?? ''));
  return (h['x-api-key'] as string | undefined) ?? bearer?.[1] ?? (h['x-goog-api-key'] as string | undefined) ?? null;
}

function errorMessage(err: FakeError): string {
  if (err.message) return err.message;
  if (err.status === 429) return `Rate limit exceeded: too many requests; try again in ${err.resetInSec ?? 120} seconds`;
  if (err.status === 401) return 'invalid x-api-key: authentication failed';
  return 'Internal server error (fake model)';
}

export async function startFakeModel(opts: FakeModelOptions = {}): Promise<FakeModelServer> {
  const scenarios = new Map<string, FakeScenario>(Object.entries(opts.scenarios ?? {}));
  const fallback = opts.defaultScenario ?? 'default';
  if (!scenarios.has(fallback)) scenarios.set(fallback, {});
  const failures = new Map<string, number>();
  const requests: RequestRecord[] = [];
  const served: Array<{ scenario: string; input: number; output: number }> = [];
  const sockets = new Set<Socket>();

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string): void => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const r = req.method === 'POST' ? route(path) : null;
    if (!r) {
      // model listings and other probes: an empty, valid answer
      sendJson(res, req.method === 'GET' ? 200 : 404, req.method === 'GET' ? { object: 'list', data: [], models: [] } : { error: { message: `fake model: no route ${path}` } });
      return;
    }
    let body: Json;
    try {
      body = obj(JSON.parse(raw)) ?? {};
    } catch {
      sendJson(res, 400, { error: { message: 'fake model: invalid JSON' } });
      return;
    }
    const conv: Conversation =
      r.protocol === 'anthropic' ? parseAnthropic(body) : r.protocol === 'responses' ? parseResponses(body) : r.protocol === 'chat' ? parseChat(body) : parseGemini(body);
    const name = scenarioName(conv.lastPrompt, fallback);
    const scenario = scenarios.get(name) ?? scenarios.get(fallback) ?? {};
    const model = r.model ?? (typeof body.model === 'string' ? body.model : null);
    const record: RequestRecord = { protocol: r.protocol, path, scenario: name, tools: conv.tools.map((t) => t.name), answer: '', apiKey: apiKeyOf(req), model, cwd: conv.cwd, prompts: conv.prompts };
    requests.push(record);

    const err = scenario.error;
    const failed = failures.get(name) ?? 0;
    if (err && (err.times === undefined || failed < err.times)) {
      failures.set(name, failed + 1);
      record.answer = `error:${err.status}`;
      const headers: Record<string, string> = err.status === 429 ? { 'retry-after': String(err.retryAfterSec ?? 1) } : {};
      if (err.status === 401 || err.status === 429) headers['x-should-retry'] = 'false';
      const message = errorMessage(err);
      if (r.protocol === 'anthropic') errorAnthropic(res, err, message, headers);
      else if (r.protocol === 'gemini') errorGemini(res, err, message, headers);
      else errorOpenAi(res, err, message, headers);
      return;
    }
    if (scenario.stall && conv.tools.length > 0) {
      record.answer = 'stall';
      startSse(res);
      res.write(': stalled\n\n');
      return;
    }
    const reply: Reply = nextReply(conv, scenario);
    record.answer = reply.type === 'tool' ? reply.name : 'text';
    served.push({ scenario: name, input: USAGE.input, output: USAGE.output });
    if (r.protocol === 'anthropic') replyAnthropic(res, body, reply);
    else if (r.protocol === 'responses') replyResponses(res, body, reply);
    else if (r.protocol === 'chat') replyChat(res, body, reply);
    else replyGemini(res, r.model ?? 'gemini-2.5-pro', r.stream === true, reply);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        handle(req, res, Buffer.concat(chunks).toString('utf8'));
      } catch (e) {
        if (!res.headersSent) sendJson(res, 500, { error: { message: `fake model crashed: ${String(e)}` } });
        else res.end();
      }
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    usage(scenario) {
      const rows = served.filter((s) => scenario === undefined || s.scenario === scenario);
      return { requests: rows.length, input: rows.reduce((a, s) => a + s.input, 0), output: rows.reduce((a, s) => a + s.output, 0) };
    },
    setScenario(name, scenario) {
      scenarios.set(name, scenario);
      failures.delete(name);
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
