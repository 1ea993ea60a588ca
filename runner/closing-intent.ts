/**
 * Closing intents, `var/closing/<job_id>.json`: how a job closed by a command (approve to an end,
 * reject, cancel of a pending or parked job) survives the command's process dying half way.
 *
 * Such a command holds no lock on the job (a runner may claim a pending job at any moment), so
 * the queue move is what decides that it won, and only then may it write the closed artifacts
 * and record the callback. A process dying right after the move (Ctrl-C, OOM, a gateway
 * restart) used to leave the job in failed/ with the state of before, no result.json of its
 * closing and no callback: lost. Now the command first writes its decided state here, durably,
 * then moves, then completes (artifacts, callback, log) and removes the intent.
 *
 * Recovery (runner start and maintenance, `orchestrator recover`) settles the intents whose
 * owner is gone: the job found where the intent moved it gets the rest of its closing, exactly
 * as decided (same finished_at, so the same callback delivery id); found anywhere else, or closed
 * by someone else, the move never happened (or lost to a runner's claim) and the intent is
 * dropped, the job untouched.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { NormalizedJob } from '../contracts/index.ts';
import type { FsQueue } from '../fsqueue/queue.ts';
import { isSafeJobId, type QueueState } from '../fsqueue/states.ts';
import type { Config } from '../lib/config.ts';
import { errnoCode, errorMessage } from '../lib/errors.ts';
import { fsyncDir, readJsonIfExists, writeJsonAtomic } from '../lib/fsutil.ts';
import type { Logger } from '../lib/logger.ts';
import { pidAlive } from '../lib/proc.ts';
import { JobArtifacts } from './artifacts.ts';
import { recordCallback, thisOwner } from './callback-outbox.ts';
import { writeFinalArtifacts } from './finalize.ts';
import type { JobState } from './state.ts';

export interface ClosingIntent {
  job_id: string;
  from: QueueState;
  /** Where the command moves the job: `done` or `failed` (the state's `queue_state`). */
  to: 'done' | 'failed';
  /** The closed state, as decided before the move. */
  state: JobState;
  /** The job log's line for the closing ("rejected by ana → failed"). */
  log_line: string | null;
  owner: { pid: number; host: string };
  created_at: string;
}

/** How long an intent of a live process (this one, or one on another host) counts as under way. */
export const INTENT_GRACE_MS = 60_000;

export function intentsDir(config: Config): string {
  return path.join(config.paths.varRoot, 'closing');
}

function intentFile(config: Config, jobId: string): string {
  return path.join(intentsDir(config), `${jobId}.json`);
}

/** Durably record what the command is about to do (file and directory fsynced). */
export async function writeIntent(config: Config, intent: ClosingIntent): Promise<void> {
  await fsp.mkdir(intentsDir(config), { recursive: true });
  await writeJsonAtomic(intentFile(config, intent.job_id), intent);
}

/** Drop an intent (done with, or void). Not fsynced: an intent that reappears after a crash is settled again, harmlessly. */
export async function removeIntent(config: Config, jobId: string): Promise<void> {
  await fsp.rm(intentFile(config, jobId), { force: true });
}

export function newIntent(job: NormalizedJob, from: QueueState, state: JobState & { queue_state: 'done' | 'failed' }, logLine: string | null, now: Date): ClosingIntent {
  return { job_id: job.job_id, from, to: state.queue_state, state, log_line: logLine, owner: thisOwner(), created_at: now.toISOString() };
}

/**
 * After the move: write the closed artifacts, record the callback, log the closing, drop the
 * intent. Idempotent (each part is), so recovery can run it again on a half-completed closing.
 */
export async function completeClosing(config: Config, job: NormalizedJob, intent: ClosingIntent, now: Date): Promise<void> {
  const art = new JobArtifacts(config.paths.artifactsRoot, job.job_id);
  await writeFinalArtifacts(art, job, intent.state, null);
  await recordCallback(config, job, intent.state, now);
  if (intent.log_line) await art.appendLog(intent.log_line);
  await removeIntent(config, job.job_id);
}

/** Pure: may recovery settle this intent now, or is its owner still at it? */
export function intentAbandoned(intent: Pick<ClosingIntent, 'owner' | 'created_at'>, here: { host: string; pid: number; now: number; alive: (pid: number) => boolean }): boolean {
  const age = here.now - Date.parse(intent.created_at);
  if (intent.owner.host !== here.host) return !(age < INTENT_GRACE_MS); // another host: trust it for a while
  if (intent.owner.pid === here.pid) return !(age < INTENT_GRACE_MS); // ours, and left behind (its command failed after the move)
  return !here.alive(intent.owner.pid);
}

export interface SettledIntent {
  job_id: string;
  to: QueueState;
  outcome: 'completed' | 'dropped';
  reason: string;
}

/** Settle every abandoned intent (see the module comment). Never throws for one bad intent. */
export async function settleIntents(ctx: { config: Config; queue: FsQueue; log: Logger; now: () => Date }): Promise<SettledIntent[]> {
  const { config, queue, log } = ctx;
  let names: string[];
  try {
    names = (await fsp.readdir(intentsDir(config))).filter((n) => n.endsWith('.json'));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
  const out: SettledIntent[] = [];
  for (const name of names) {
    const id = name.slice(0, -'.json'.length);
    const file = path.join(intentsDir(config), name);
    try {
      const intent = await readJsonIfExists<ClosingIntent>(file);
      if (!intent) continue; // settled meanwhile
      if (!isSafeJobId(id) || intent.job_id !== id || !intent.state || !intent.owner) {
        await fsp.rename(file, `${file}.bad`);
        log.error({ file }, 'unreadable closing intent set aside');
        continue;
      }
      if (!intentAbandoned(intent, { host: config.host, pid: process.pid, now: ctx.now().getTime(), alive: pidAlive })) continue;
      const where = await queue.locate(id);
      // in the intent's state but closed by someone else: a cancel whose move lost to a runner's
      // claim, the runner then failing the job; its own closing stands
      const current = where === intent.to ? await new JobArtifacts(config.paths.artifactsRoot, id).readState().catch(() => undefined) : undefined;
      const closedElsewhere = current?.finished_at != null && current.finished_at !== intent.state.finished_at;
      if (where === intent.to && !closedElsewhere) {
        const read = await queue.readFile(queue.pathOf(where, id));
        if (!read.ok) throw new Error(`its job file is unreadable: ${read.reason}`);
        await completeClosing(config, read.job, intent, ctx.now());
        out.push({ job_id: id, to: intent.to, outcome: 'completed', reason: `its ${intent.from} → ${intent.to} move was made; the rest of the closing was not` });
        log.warn({ job_id: id, to: intent.to }, 'completed a closing whose command died after moving the job');
      } else {
        await removeIntent(config, id);
        await fsyncDir(intentsDir(config)).catch(() => undefined);
        const why = closedElsewhere ? `the job was closed by another (finished_at ${current?.finished_at})` : `the job is ${where ?? 'gone'}: the command's move never happened`;
        out.push({ job_id: id, to: where ?? intent.from, outcome: 'dropped', reason: why });
        log.warn({ job_id: id, where: where ?? null }, 'dropped a closing intent whose command died before moving the job');
      }
    } catch (err) {
      log.error({ job_id: id, file, err: errorMessage(err) }, 'cannot settle a closing intent; will retry on the next pass');
    }
  }
  return out;
}
