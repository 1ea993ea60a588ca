/**
 * The scheduler: `schedules/*.json` files (`{id, enabled, schedule: "<cron>", payload: <job>}`, the
 * MVP's format, plus optional `timezone`, `description` and `catch_up`) enqueue their payload through the one
 * submit path on their cron (croner computes the slots; we keep the timers, so each fire knows
 * its exact slot).
 *
 * Invariants:
 * - A slot fires at most once, across restarts and across several scheduler processes: the last
 *   fired slot of each schedule is kept in `var/schedules-state.json` (written atomically) and a
 *   restarted scheduler resumes strictly after it; each slot's job also carries the idempotency
 *   key `schedule:<id>:<slot>`, so even a lost state file or a second scheduler cannot double it.
 * - A bad schedule file is reported (log, status(), /health) and skipped; it never stops the rest.
 * - Slots missed while no scheduler ran are logged at start; with `catch_up` the newest of them
 *   fires then, once (older ones are not replayed: a nightly job down for a week runs once).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { Cron } from 'croner';
import type { Job } from '../contracts/index.ts';
import { parseJsonText, validateJob } from '../contracts/validate.ts';
import { createQueue, type FsQueue } from '../fsqueue/queue.ts';
import type { Config } from '../lib/config.ts';
import { OrchestratorError, errorMessage, isOrchestratorError, type Issue } from '../lib/errors.ts';
import { readJsonIfExists, writeJsonAtomic } from '../lib/fsutil.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import { submitJob } from './submit.ts';

export interface ScheduleDef {
  id: string;
  enabled: boolean;
  schedule: string;
  timezone?: string;
  description?: string;
  /** Fire the newest slot missed while the scheduler was down, once, at start (default false). */
  catch_up?: boolean;
  payload: Job;
}

export interface ScheduleError {
  file: string;
  message: string;
  issues: Issue[];
}

interface Loaded {
  def: ScheduleDef;
  file: string;
  cron: Cron;
  timer?: NodeJS.Timeout;
}

interface StateFile {
  schema_version: '1.0';
  schedules: Record<string, { last_slot: string; job_id: string | null; fired_at: string }>;
}

export type FireOutcome = 'queued' | 'duplicate' | 'already_fired' | 'error';

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const KEYS = new Set(['id', 'enabled', 'schedule', 'timezone', 'description', 'catch_up', 'payload']);
/** Longest single timer: long waits are re-armed, which also absorbs clock changes. */
const MAX_TIMER_MS = 30_000;

/** Pure: parse and check one schedule file. Throws E_SCHEMA naming every problem. */
export function parseSchedule(text: string, file: string): ScheduleDef {
  const raw = parseJsonText(text, { file });
  const issues: Issue[] = [];
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new OrchestratorError('E_SCHEMA', `${file}: a schedule must be a JSON object`, { file, issues: [{ path: '$', message: 'must be object' }] });
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KEYS.has(k)) issues.push({ path: `$.${k}`, message: 'unknown field (id, enabled, schedule, payload, timezone, description, catch_up)' });
  if (typeof o.id !== 'string' || !ID_RE.test(o.id)) issues.push({ path: '$.id', message: 'must be 1-64 of [A-Za-z0-9._-], starting with a letter or digit' });
  if (typeof o.enabled !== 'boolean') issues.push({ path: '$.enabled', message: 'must be boolean' });
  if (o.catch_up !== undefined && typeof o.catch_up !== 'boolean') issues.push({ path: '$.catch_up', message: 'must be boolean' });
  if (o.description !== undefined && typeof o.description !== 'string') issues.push({ path: '$.description', message: 'must be string' });
  if (o.timezone !== undefined && typeof o.timezone !== 'string') issues.push({ path: '$.timezone', message: 'must be an IANA time zone name' });
  if (typeof o.schedule !== 'string') issues.push({ path: '$.schedule', message: 'must be a cron expression string' });
  else {
    try {
      const c = new Cron(o.schedule, { paused: true, ...(typeof o.timezone === 'string' ? { timezone: o.timezone } : {}) });
      c.nextRun();
      c.stop();
    } catch (err) {
      issues.push({ path: typeof o.timezone === 'string' && /zone|timeZone/i.test(errorMessage(err)) ? '$.timezone' : '$.schedule', message: errorMessage(err) });
    }
  }
  if (o.payload === undefined) issues.push({ path: '$.payload', message: 'is required (a job)' });
  else {
    try {
      validateJob(o.payload);
    } catch (err) {
      if (!isOrchestratorError(err)) throw err;
      for (const i of err.details.issues ?? []) issues.push({ path: i.path.replace(/^\$/, '$.payload'), message: i.message });
    }
    if (o.payload && typeof o.payload === 'object' && 'job_id' in o.payload) issues.push({ path: '$.payload.job_id', message: 'not allowed: every slot creates a new job' });
  }
  if (issues.length) throw new OrchestratorError('E_SCHEMA', `${file}: invalid schedule: ${issues.length} problem${issues.length > 1 ? 's' : ''}`, { file, issues });
  return o as unknown as ScheduleDef;
}

/** Widening look-back windows for the newest slot at or before a moment (1 s ... 1 year). */
const LOOK_BACK_MS = [1_000, 60_000, 3_600_000, 86_400_000, 31 * 86_400_000, 366 * 86_400_000];

/**
 * Pure (given the cron): the newest slot in (after, now], or null. Found by widening look-back
 * windows, then stepping forward through the few slots of the first window that holds one, so a
 * per-second schedule down for a month costs a handful of steps, not millions.
 */
export function newestSlotBetween(cron: Pick<Cron, 'nextRun'>, after: number, now: number): Date | null {
  for (const back of LOOK_BACK_MS) {
    const from = Math.max(after, now - back);
    let slot = cron.nextRun(new Date(from));
    if (!slot || slot.getTime() > now) {
      if (from === after) return null; // the whole gap holds no slot
      continue;
    }
    for (let next = cron.nextRun(slot); next && next.getTime() <= now; next = cron.nextRun(next)) slot = next;
    return slot;
  }
  return null; // nothing within a year
}

/** Read every `*.json` of the schedules directory; bad files come back as errors. */
export async function loadSchedules(dir: string): Promise<{ defs: Array<{ def: ScheduleDef; file: string }>; errors: ScheduleError[] }> {
  const names = (await fsp.readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort();
  const defs: Array<{ def: ScheduleDef; file: string }> = [];
  const errors: ScheduleError[] = [];
  const ids = new Map<string, string>();
  for (const n of names) {
    const file = path.join(dir, n);
    try {
      const def = parseSchedule(await fsp.readFile(file, 'utf8'), file);
      const other = ids.get(def.id);
      if (other) throw new OrchestratorError('E_SCHEMA', `${file}: schedule id ${JSON.stringify(def.id)} is already used by ${other}`, { file, issues: [{ path: '$.id', message: `duplicate of ${other}` }] });
      ids.set(def.id, file);
      defs.push({ def, file });
    } catch (err) {
      errors.push({ file, message: errorMessage(err), issues: isOrchestratorError(err) ? err.details.issues ?? [] : [] });
    }
  }
  return { defs, errors };
}

export interface SchedulerOptions {
  config: Config;
  logger?: Logger;
  queue?: FsQueue;
  now?: () => Date;
  onFire?: (scheduleId: string, outcome: FireOutcome) => void;
}

export interface ScheduleStatus {
  id: string;
  file: string;
  enabled: boolean;
  schedule: string;
  timezone: string | null;
  next_run: string | null;
  last_slot: string | null;
  last_job_id: string | null;
}

export interface Scheduler {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Fire one slot now (what the timer does). Exposed for tests and manual runs. */
  fire(scheduleId: string, slot: Date): Promise<FireOutcome>;
  status(): { schedules: ScheduleStatus[]; errors: ScheduleError[] };
  health(): Record<string, unknown>;
}

export function createScheduler(opts: SchedulerOptions): Scheduler {
  const { config } = opts;
  const log = opts.logger ?? silentLogger();
  const now = opts.now ?? (() => new Date());
  const queue = opts.queue ?? createQueue(config.paths.queueRoot);
  const stateFile = path.join(config.paths.varRoot, 'schedules-state.json');
  const loaded = new Map<string, Loaded>();
  let errors: ScheduleError[] = [];
  let state: StateFile = { schema_version: '1.0', schedules: {} };
  let writing: Promise<void> = Promise.resolve();
  const firing = new Set<Promise<FireOutcome>>(); // stop() waits for these: a fire under way finishes whole
  let stopped = false;

  const lastSlot = (id: string): number => {
    const s = state.schedules[id];
    return s ? Date.parse(s.last_slot) : -Infinity;
  };

  function record(id: string, slot: Date, jobId: string | null): Promise<void> {
    state = { ...state, schedules: { ...state.schedules, [id]: { last_slot: slot.toISOString(), job_id: jobId, fired_at: now().toISOString() } } };
    const snapshot = state;
    writing = writing.then(async () => {
      await fsp.mkdir(path.dirname(stateFile), { recursive: true });
      await writeJsonAtomic(stateFile, snapshot);
    }).catch((err: unknown) => log.error({ err: errorMessage(err), file: stateFile }, 'cannot write the schedules state (idempotency keys still prevent a second fire)'));
    return writing;
  }

  function fire(id: string, slot: Date): Promise<FireOutcome> {
    const p = fireOnce(id, slot);
    firing.add(p);
    void p.finally(() => firing.delete(p)).catch(() => undefined);
    return p;
  }

  async function fireOnce(id: string, slot: Date): Promise<FireOutcome> {
    const s = loaded.get(id);
    if (!s) throw new OrchestratorError('E_BAD_INPUT', `no schedule ${JSON.stringify(id)}`);
    if (lastSlot(id) >= slot.getTime()) return 'already_fired';
    const slotIso = slot.toISOString();
    const payload = s.def.payload;
    const alias = payload.project_id !== undefined && Object.hasOwn(config.projectAliases, payload.project_id) ? config.projectAliases[payload.project_id] : undefined;
    let outcome: FireOutcome;
    try {
      const res = await submitJob(payload, {
        queue,
        artifactsRoot: config.paths.artifactsRoot,
        sourceType: 'cron',
        idempotencyKey: `schedule:${id}:${slotIso}`,
        override: { source: { type: 'cron', meta: { schedule_id: id, slot: slotIso } }, ...(alias && (payload.workdir ?? '.') === '.' ? { workdir: alias } : {}) },
        now,
      });
      await record(id, slot, res.job.job_id);
      outcome = res.duplicate ? 'duplicate' : 'queued';
      log.info({ schedule_id: id, slot: slotIso, job_id: res.job.job_id, duplicate: res.duplicate }, 'schedule fired');
    } catch (err) {
      outcome = 'error';
      log.error({ schedule_id: id, slot: slotIso, err: errorMessage(err) }, 'schedule fire failed');
    }
    opts.onFire?.(id, outcome);
    return outcome;
  }

  /**
   * Slots that came while no scheduler ran: logged, and with `catch_up` the newest one fires now
   * (once: its slot is then recorded). Only when this schedule fired before (a recorded slot):
   * a first start, or a lost state file, has no gap to speak of.
   */
  async function catchUp(s: Loaded): Promise<void> {
    const last = lastSlot(s.def.id);
    if (!s.def.enabled || last === -Infinity) return;
    const missed = newestSlotBetween(s.cron, last, now().getTime());
    if (!missed) return;
    const info = { schedule_id: s.def.id, last_slot: new Date(last).toISOString(), newest_missed: missed.toISOString() };
    if (!s.def.catch_up) {
      log.warn(info, 'slots were missed while the scheduler was down; not caught up (set "catch_up": true to run the newest one at start)');
      return;
    }
    log.warn(info, 'slots were missed while the scheduler was down: catching up the newest one');
    await fire(s.def.id, missed);
  }

  function arm(s: Loaded, target?: Date): void {
    if (stopped || !s.def.enabled) return;
    const t = now().getTime();
    const next = target ?? s.cron.nextRun(new Date(Math.max(t, lastSlot(s.def.id))));
    if (!next) return;
    s.timer = setTimeout(() => {
      if (stopped) return;
      if (now().getTime() < next.getTime()) return arm(s, next); // a long wait was split, or woke early
      void fire(s.def.id, next).finally(() => arm(s));
    }, Math.min(MAX_TIMER_MS, Math.max(0, next.getTime() - t)));
  }

  function status(): ReturnType<Scheduler['status']> {
  return {
      schedules: [...loaded.values()].map((s) => ({
        id: s.def.id,
        file: s.file,
        enabled: s.def.enabled,
        schedule: s.def.schedule,
        timezone: s.def.timezone ?? null,
        next_run: s.def.enabled ? s.cron.nextRun(new Date(Math.max(now().getTime(), lastSlot(s.def.id))))?.toISOString() ?? null : null,
        last_slot: state.schedules[s.def.id]?.last_slot ?? null,
        last_job_id: state.schedules[s.def.id]?.job_id ?? null,
      })),
      errors,
    };
  }

  return {
    async start() {
      stopped = false;
      await queue.init();
      try {
        state = (await readJsonIfExists<StateFile>(stateFile)) ?? state;
        if (!state.schedules || typeof state.schedules !== 'object') throw new Error('no "schedules" object');
      } catch (err) {
        log.error({ file: stateFile, err: errorMessage(err) }, 'unreadable schedules state: starting from an empty one (idempotency keys still prevent repeats)');
        state = { schema_version: '1.0', schedules: {} };
      }
      const res = await loadSchedules(config.paths.schedulesDir);
      errors = res.errors;
      for (const e of errors) log.error({ file: e.file, issues: e.issues }, `schedule skipped: ${e.message}`);
      for (const { def, file } of res.defs) {
        const s: Loaded = { def, file, cron: new Cron(def.schedule, { paused: true, ...(def.timezone ? { timezone: def.timezone } : {}) }) };
        loaded.set(def.id, s);
        await catchUp(s);
        arm(s);
      }
      log.info({ dir: config.paths.schedulesDir, schedules: loaded.size, enabled: [...loaded.values()].filter((s) => s.def.enabled).length, skipped: errors.length }, 'scheduler started');
    },
    async stop() {
      stopped = true;
      for (const s of loaded.values()) {
        if (s.timer) clearTimeout(s.timer);
        s.cron.stop();
      }
      // A fire already under way (its job being written) completes, and records its slot, before
      // stop() returns: nothing is written into the state directory after it.
      while (firing.size > 0) await Promise.allSettled([...firing]);
      await writing;
    },
    fire,
    status,
    health() {
      const st = status();
      return { schedules: st.schedules.length, enabled: st.schedules.filter((s) => s.enabled).length, errors: st.errors.map((e) => ({ file: e.file, message: e.message })) };
    },
  };
}
