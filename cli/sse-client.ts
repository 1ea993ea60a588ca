/**
 * Following a job through the gateway's SSE feed (`GET /jobs/:id/events`): what `orchestrator
 * logs --follow` uses when ORCHESTRATOR_URL is set (the job may run on another machine). A
 * dropped connection is resumed with Last-Event-ID, so no event is shown twice or lost.
 */
import type { QueueState } from '../fsqueue/states.ts';
import { OrchestratorError, errorMessage } from '../lib/errors.ts';
import type { JobEvent } from '../runner/events.ts';

/** One message of the feed; a field the message does not carry is undefined. */
export interface SseMessage {
  /** `Number()` of the id line's value (NaN when it is not a number). */
  id?: number;
  event?: string;
  /** The data lines joined with '\n'; undefined when the message has none. */
  data?: string;
}

/**
 * One message block (the text between two blank lines). Reads the lines the gateway writes,
 * `id: `, `event: ` and `data: ` (each with its space); anything else (a `: ping` comment,
 * `retry: `) is passed over.
 */
export function parseSseBlock(block: string): SseMessage {
  const m: SseMessage = {};
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('id: ')) m.id = Number(line.slice(4));
    else if (line.startsWith('event: ')) m.event = line.slice(7);
    else if (line.startsWith('data: ')) data.push(line.slice(6));
  }
  if (data.length) m.data = data.join('\n');
  return m;
}

/** The messages of an SSE body as they arrive, every block (even an empty one) in order, to the stream's end. */
export async function* readSseMessages(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage, void, undefined> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      yield parseSseBlock(block);
    }
  }
}

export interface FollowHttpOptions {
  baseUrl: string;
  token: string | undefined;
  jobId: string;
  onEvent: (ev: JobEvent) => void;
  signal?: AbortSignal;
  /** Reconnect attempts after a dropped stream (default 5). */
  retries?: number;
}

/** Returns the job's final queue state (from the feed's `end` message). */
export async function followEventsHttp(opts: FollowHttpOptions): Promise<QueueState | undefined> {
  let lastId = 0;
  let failures = 0;
  for (;;) {
    let res: Response;
    try {
      res = await fetch(`${opts.baseUrl.replace(/\/+$/, '')}/jobs/${encodeURIComponent(opts.jobId)}/events`, {
        headers: { accept: 'text/event-stream', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(lastId ? { 'last-event-id': String(lastId) } : {}) },
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      if (opts.signal?.aborted) return undefined;
      if (++failures > (opts.retries ?? 5)) throw new OrchestratorError('E_INTERNAL', `cannot reach ${opts.baseUrl}: ${errorMessage(err)}`);
      await new Promise((r) => setTimeout(r, 500 * failures));
      continue;
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      let message = `HTTP ${res.status}`;
      try {
        message = (JSON.parse(text) as { error: { message: string } }).error.message;
      } catch {
        // not our error body
      }
      const code = res.status === 404 ? 'E_JOB_NOT_FOUND' : res.status === 401 ? 'E_UNAUTHORIZED' : res.status === 403 ? 'E_FORBIDDEN' : 'E_INTERNAL';
      throw new OrchestratorError(code, `${opts.baseUrl}: ${message}`);
    }
    try {
      for await (const m of readSseMessages(res.body!)) {
        if (m.id !== undefined && Number.isFinite(m.id)) lastId = m.id;
        if (m.event === 'end') return ((JSON.parse(m.data || '{}') as { queue_state?: QueueState | null }).queue_state ?? undefined);
        if (m.event === 'state' || m.data === undefined) continue;
        try {
          opts.onEvent(JSON.parse(m.data) as JobEvent);
        } catch {
          // a malformed message: skip it
        }
      }
    } catch (err) {
      if (opts.signal?.aborted) return undefined;
      if (++failures > (opts.retries ?? 5)) throw new OrchestratorError('E_INTERNAL', `event stream from ${opts.baseUrl} failed: ${errorMessage(err)}`);
    }
    if (opts.signal?.aborted) return undefined;
    // the stream closed before `end` (gateway restart, proxy timeout): resume after the last id
    await new Promise((r) => setTimeout(r, 250));
  }
}
