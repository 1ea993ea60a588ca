/**
 * Following a job from the outside: tail its events.jsonl (written by whichever runner runs it)
 * until the job reaches a terminal or waiting state. Used by `submit --wait` and `logs --follow`.
 */
import { promises as fsp } from 'node:fs';
import type { FsQueue } from '../fsqueue/queue.ts';
import type { JobEvent } from '../runner/events.ts';
import type { QueueState } from '../fsqueue/states.ts';

export async function followEvents(
  queue: FsQueue,
  eventsFile: string,
  jobId: string,
  onEvent: (ev: JobEvent) => void,
  opts: { untilWaiting?: boolean; pollMs?: number; signal?: AbortSignal } = {},
): Promise<QueueState | undefined> {
  let offset = 0;
  let partial = '';
  const poll = opts.pollMs ?? 100;
  let finalState: QueueState | undefined | null = null;
  for (;;) {
    const fh = await fsp.open(eventsFile, 'r').catch(() => undefined);
    if (fh) {
      try {
        const { size } = await fh.stat();
        if (size > offset) {
          const buf = Buffer.alloc(size - offset);
          await fh.read(buf, 0, buf.length, offset);
          offset = size;
          const text = partial + buf.toString('utf8');
          const lines = text.split('\n');
          partial = lines.pop() ?? '';
          for (const l of lines) {
            if (!l.trim()) continue;
            try {
              onEvent(JSON.parse(l) as JobEvent);
            } catch {
              // a torn line: ignore
            }
          }
        }
      } finally {
        await fh.close();
      }
    }
    // one more read after the job settled: its last events are written just after the move
    if (finalState !== null) return finalState;
    const state = await queue.locate(jobId);
    if (state === 'done' || state === 'failed' || (opts.untilWaiting && state === 'awaiting_approval') || state === undefined) {
      finalState = state;
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    if (opts.signal?.aborted) return state;
    await new Promise((r) => setTimeout(r, poll));
  }
}
