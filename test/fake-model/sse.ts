/** Server-Sent Events and JSON helpers shared by the protocol modules. */
import type { ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { ToolSpec } from './script.ts';

export type Json = Record<string, unknown>;

export function startSse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
}

export function sse(res: ServerResponse, data: unknown, event?: string): void {
  res.write(`${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export const id = (prefix: string): string => `${prefix}${randomBytes(8).toString('hex')}`;

export function obj(v: unknown): Json | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : null;
}

export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** A ToolSpec from a name and a JSON-schema-ish parameters object. */
export function toolSpec(name: unknown, params: unknown): ToolSpec | null {
  if (typeof name !== 'string') return null;
  const p = obj(params);
  const props = obj(p?.properties) ?? {};
  const properties: ToolSpec['properties'] = {};
  for (const [k, v] of Object.entries(props)) {
    const t = obj(v)?.type;
    properties[k] = typeof t === 'string' ? { type: t.toLowerCase() } : {};
  }
  return { name, properties, required: list(p?.required).filter((r): r is string => typeof r === 'string') };
}

/** Text of a content value: a string, or an array of blocks with `text`. */
export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  return list(content)
    .map((b) => (typeof b === 'string' ? b : typeof obj(b)?.text === 'string' ? (obj(b)?.text as string) : ''))
    .join('\n');
}

const CWD_RES = [/Working directory: ([^\n\\<"]+)/, /<cwd>([^<]+)<\/cwd>/, /current working directory(?: is)?:? ([^\n\\<"]+)/i, /working in the directory:? ([^\n\\<"]+)/i];

/** The agent's cwd as its system prompt states it (absolute paths only). */
export function findCwd(text: string): string | null {
  for (const re of CWD_RES) {
    const m = re.exec(text);
    const dir = m?.[1]?.trim().replace(/[.`'"]+$/, '');
    if (dir?.startsWith('/')) return dir;
  }
  return null;
}
