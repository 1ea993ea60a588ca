/**
 * Server-Sent Events of one job's life, read from `artifacts/<job_id>/events.jsonl` (which every
 * runner appends to), so the feed works the same whether the runner is in this process or not.
 *
 * Wire format: each events.jsonl line is one SSE message, `id` = its line number (a reconnecting
 * client sends Last-Event-ID and gets only what it missed), `event` = the event type
 * (job:claimed, step:started, agent:output, step:finished, job:parked, job:finished...), `data` =
 * the event JSON. Extra messages: `state` when the job's queue state changes, a `: ping` comment
 * every 15 s, and a final `end` once the job is done or failed, after which the server closes.
 * When a runner is in-process its events wake the tail at once; otherwise it polls.
 */
import { once } from 'node:events';
import { promises as fsp } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { FsQueue } from '../fsqueue/queue.ts';
import type { QueueState } from '../fsqueue/states.ts';
import type { RunnerEvents } from '../runner/events.ts';

export interface SseStreamOptions {
  queue: FsQueue;
  eventsFile: string;
  jobId: string;
  /** Skip the first n lines (the client's Last-Event-ID). */
  lastEventId?: number;
  events?: RunnerEvents;
  pollMs?: number;
  keepAliveMs?: number;
  /** After the job settles, how long to wait for its closing event to be appended. */
  settleMs?: number;
}

/** Open streams, so that closing the gateway can end them (hijacked replies hold the server open). */
export class SseHub {
  private readonly open = new Set<() => void>();
  add(close: () => void): () => void {
    this.open.add(close);
    return () => this.open.delete(close);
  }
  get size(): number {
    return this.open.size;
  }
  closeAll(): void {
    for (const c of [...this.open]) c();
  }
}

const CLOSING_EVENTS = new Set(['job:finished', 'job:recovered']);

export function sseMessage(fields: { id?: number; event?: string; data: string }): string {
  let s = '';
  if (fields.id !== undefined) s += `id: ${fields.id}\n`;
  if (fields.event) s += `event: ${fields.event}\n`;
  for (const line of fields.data.split('\n')) s += `data: ${line}\n`;
  return s + '\n';
}

export async function streamJobEvents(res: ServerResponse, opts: SseStreamOptions, hub: SseHub): Promise<void> {
  const poll = opts.pollMs ?? (opts.events ? 250 : 100);
  const keepAlive = opts.keepAliveMs ?? 15_000;
  const settle = opts.settleMs ?? 1000;
  let closed = false;
  let wake: (() => void) | undefined;
  const stop = (): void => {
    closed = true;
    wake?.();
  };
  res.on('close', stop);
  const unregister = hub.add(() => {
    stop();
    res.end();
  });
  const offEvents = opts.events?.onAny((ev) => {
    if ((ev.data as { job_id?: string }).job_id === opts.jobId) setTimeout(() => wake?.(), 5);
  });

  const write = async (chunk: string): Promise<void> => {
    if (closed) return;
    if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
  };

  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  await write('retry: 2000\n\n');

  let offset = 0;
  let partial = '';
  let lineNo = 0;
  const skip = opts.lastEventId ?? 0;
  let lastState: QueueState | undefined | null = null;
  let settledAt: number | undefined;
  let sawClosing = false;
  let lastWrite = Date.now();

  try {
    while (!closed) {
      const fh = await fsp.open(opts.eventsFile, 'r').catch(() => undefined);
      if (fh) {
        try {
          const { size } = await fh.stat();
          if (size > offset) {
            const buf = Buffer.alloc(size - offset);
            const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
            offset += bytesRead;
            const lines = (partial + buf.subarray(0, bytesRead).toString('utf8')).split('\n');
            partial = lines.pop() ?? '';
            for (const line of lines) {
              if (!line.trim()) continue;
              lineNo++;
              let type: string;
              try {
                type = String((JSON.parse(line) as { type?: unknown }).type ?? 'event');
              } catch {
                continue; // a torn line (crash mid-append): skipped, its number is kept
              }
              if (CLOSING_EVENTS.has(type)) sawClosing = true;
              if (lineNo <= skip) continue;
              await write(sseMessage({ id: lineNo, event: type, data: line }));
              lastWrite = Date.now();
            }
          }
        } finally {
          await fh.close();
        }
      }
      if (closed) break;
      const state = await opts.queue.locate(opts.jobId).catch(() => undefined);
      if (state !== lastState) {
        lastState = state;
        await write(sseMessage({ event: 'state', data: JSON.stringify({ job_id: opts.jobId, queue_state: state ?? null }) }));
        lastWrite = Date.now();
      }
      if (state === 'done' || state === 'failed' || state === undefined) {
        settledAt ??= Date.now();
        // the closing event is appended just after the move: wait for it (briefly)
        if (sawClosing || Date.now() - settledAt >= settle) {
          await write(sseMessage({ event: 'end', data: JSON.stringify({ job_id: opts.jobId, queue_state: state ?? null }) }));
          break;
        }
      } else {
        // not (or no longer) settled: a closing event read so far belongs to an earlier run
        settledAt = undefined;
        sawClosing = false;
      }
      if (Date.now() - lastWrite >= keepAlive) {
        await write(': ping\n\n');
        lastWrite = Date.now();
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, settledAt !== undefined ? 50 : poll);
        function done(): void {
          clearTimeout(t);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    }
  } finally {
    offEvents?.();
    unregister();
    res.off('close', stop);
    if (!res.writableEnded) res.end();
  }
}
