/**
 * The scheduler (runner/scheduler.ts): schedules/*.json enqueue jobs on their cron through the one
 * submit path; a slot never fires twice, across restarts or with a lost state file; bad files are
 * reported and skipped.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NormalizedJob } from '../../contracts/index.ts';
import { Cron } from 'croner';
import { newestSlotBetween, parseSchedule, createScheduler, type Scheduler } from '../../runner/scheduler.ts';
import { readJson, tempHome, waitFor, type TempHome } from '../helpers/env.ts';

let home: TempHome;
const started: Scheduler[] = [];
beforeEach(async () => {
  home = await tempHome();
  mkdirSync(home.config.paths.schedulesDir, { recursive: true });
});
afterEach(async () => {
  for (const s of started.splice(0)) await s.stop();
  await home.cleanup();
});

function schedule(name: string, body: unknown): void {
  writeFileSync(path.join(home.config.paths.schedulesDir, name), typeof body === 'string' ? body : JSON.stringify(body));
}

async function start(now?: () => Date): Promise<Scheduler> {
  const s = createScheduler({ config: home.config, ...(now ? { now } : {}) });
  started.push(s);
  await s.start();
  return s;
}

const pending = (): string[] => readdirSync(home.queue.dir('pending')).filter((f) => f.endsWith('.json'));

describe('scheduler', () => {
  it('parses the MVP format and names every problem of a bad file', () => {
    expect(parseSchedule(JSON.stringify({ id: 'nightly', enabled: true, schedule: '0 3 * * *', payload: { goal: 'x' } }), 'f').id).toBe('nightly');
    try {
      parseSchedule(JSON.stringify({ id: '../x', enabled: 'yes', catch_up: 1, schedule: '61 * * * *', payload: { goal: 1, job_id: 'fixed-0001' }, extra: 1 }), 'bad.json');
      expect.unreachable();
    } catch (err) {
      const paths = ((err as { details: { issues: Array<{ path: string }> } }).details.issues).map((i) => i.path);
      expect(paths).toEqual(expect.arrayContaining(['$.id', '$.enabled', '$.catch_up', '$.schedule', '$.payload.goal', '$.payload.job_id', '$.extra']));
    }
  });

  it('reports and skips bad files, runs the good ones', async () => {
    schedule('good.json', { id: 'good', enabled: true, schedule: '0 0 1 1 *', payload: { goal: 'yearly' } });
    schedule('broken.json', '{ not json');
    schedule('badcron.json', { id: 'badcron', enabled: true, schedule: 'every day', payload: { goal: 'x' } });
    schedule('badjob.json', { id: 'badjob', enabled: true, schedule: '* * * * *', payload: { goal: 'x', steps: [{ step_id: 's', agent: 'kimi' }] } });
    schedule('zz-dup.json', { id: 'good', enabled: true, schedule: '* * * * *', payload: { goal: 'x' } });
    schedule('notes.txt', 'ignored');
    const s = await start();
    const st = s.status();
    expect(st.schedules.map((x) => x.id)).toEqual(['good']);
    expect(st.schedules[0]?.next_run).toMatch(/-01-01T/);
    expect(st.errors.map((e) => path.basename(e.file)).sort()).toEqual(['badcron.json', 'badjob.json', 'broken.json', 'zz-dup.json']);
    expect(st.errors.find((e) => e.file.endsWith('badjob.json'))?.issues[0]?.path).toBe('$.payload.steps[0].agent');
    expect(s.health()).toMatchObject({ schedules: 1, enabled: 1 });
  });

  it('enqueues its payload on its cron, as a cron-sourced job', async () => {
    schedule('tick.json', { id: 'tick', enabled: true, schedule: '* * * * * *', payload: { goal: 'every second', steps: [{ step_id: 's', agent: 'command', command: ['true'] }] } });
    schedule('off.json', { id: 'off', enabled: false, schedule: '* * * * * *', payload: { goal: 'disabled' } });
    const s = await start();
    await waitFor(() => pending().length >= 2 || undefined, 10_000, 'two fires');
    await s.stop();
    const jobs = pending().map((f) => readJson<NormalizedJob>(path.join(home.queue.dir('pending'), f)));
    expect(jobs.every((j) => j.goal === 'every second' && j.source.type === 'cron')).toBe(true);
    const slots = jobs.map((j) => (j.source.meta as { slot: string }).slot);
    expect(new Set(slots).size).toBe(slots.length);
    for (const slot of slots) expect(slot).toMatch(/:\d\d\.000Z$/);
    expect(readJson<{ schedules: Record<string, { last_slot: string }> }>(path.join(home.config.paths.varRoot, 'schedules-state.json')).schedules.tick?.last_slot).toBe([...slots].sort().at(-1));
  });

  it('a slot that already fired does not fire again after a restart, even with the state file lost', async () => {
    schedule('daily.json', { id: 'daily', enabled: true, schedule: '0 3 * * *', payload: { goal: 'daily' } });
    const slot = new Date('2030-01-01T03:00:00.000Z');
    const first = await start();
    expect(await first.fire('daily', slot)).toBe('queued');
    await first.stop();

    const second = await start(); // a restart: a new process reads the state file
    expect(await second.fire('daily', slot)).toBe('already_fired');
    expect(second.status().schedules[0]?.last_slot).toBe(slot.toISOString());
    await second.stop();

    rmSync(path.join(home.config.paths.varRoot, 'schedules-state.json'));
    const third = await start(); // state lost: the slot's idempotency key still holds
    expect(await third.fire('daily', slot)).toBe('duplicate');
    expect(pending()).toHaveLength(1);
    // the next slot is a new job
    expect(await third.fire('daily', new Date('2030-01-02T03:00:00.000Z'))).toBe('queued');
    expect(pending()).toHaveLength(2);
  });

  it('stop() waits for a fire under way: its job and its slot are both written when stop returns', async () => {
    schedule('daily.json', { id: 'daily', enabled: true, schedule: '0 3 * * *', payload: { goal: 'daily' } });
    const slot = new Date('2030-01-01T03:00:00.000Z');
    const s = await start();
    const fired = s.fire('daily', slot); // the job is still being written...
    await s.stop(); // ...when the process is told to stop
    expect(pending()).toHaveLength(1);
    expect(readJson<{ schedules: Record<string, { last_slot: string }> }>(path.join(home.config.paths.varRoot, 'schedules-state.json')).schedules.daily?.last_slot).toBe(slot.toISOString());
    expect(await fired).toBe('queued');
  });

  it('slots missed while down: with catch_up the newest fires once at start; without, none does', async () => {
    // the scheduler's clock is fixed: no slot boundary can fall inside the test
    const now = (): Date => new Date('2026-03-01T12:30:00.000Z');
    const lastSlot = '2026-03-01T07:00:00.000Z'; // down for five and a half hours
    writeFileSync(path.join(home.config.paths.varRoot, 'schedules-state.json'), JSON.stringify({ schema_version: '1.0', schedules: {
      hourly: { last_slot: lastSlot, job_id: null, fired_at: lastSlot },
      quiet: { last_slot: lastSlot, job_id: null, fired_at: lastSlot },
    } }));
    schedule('hourly.json', { id: 'hourly', enabled: true, catch_up: true, schedule: '0 * * * *', timezone: 'UTC', payload: { goal: 'hourly' } });
    schedule('quiet.json', { id: 'quiet', enabled: true, schedule: '0 * * * *', timezone: 'UTC', payload: { goal: 'quiet' } });
    const first = await start(now); // the catch-up is queued before start() returns
    const newest = '2026-03-01T12:00:00.000Z';
    const jobs = pending().map((f) => readJson<NormalizedJob>(path.join(home.queue.dir('pending'), f)));
    expect(jobs.map((j) => [j.goal, (j.source.meta as { slot: string }).slot])).toEqual([['hourly', newest]]);
    expect(first.status().schedules.map((x) => [x.id, x.last_slot])).toEqual([['hourly', newest], ['quiet', lastSlot]]);
    await first.stop();
    await start(now); // a restart: the caught-up slot is recorded, nothing fires again
    expect(pending()).toHaveLength(1);
  });

  it('newestSlotBetween: the newest slot of a gap, in a few steps however dense the cron; null for a gap without one', () => {
    const cron = new Cron('* * * * * *', { paused: true });
    let calls = 0;
    const counted = { nextRun: (d?: Date) => (calls++, cron.nextRun(d)) };
    const now = Date.parse('2026-03-01T12:00:00.500Z');
    expect(newestSlotBetween(counted, now - 30 * 86_400_000, now)?.toISOString()).toBe('2026-03-01T12:00:00.000Z');
    expect(calls).toBeLessThan(10); // not 2.6 million
    const daily = new Cron('0 3 * * *', { paused: true, timezone: 'UTC' });
    expect(newestSlotBetween(daily, Date.parse('2026-02-20T03:00:00Z'), now)?.toISOString()).toBe('2026-03-01T03:00:00.000Z');
    expect(newestSlotBetween(daily, Date.parse('2026-03-01T03:00:00Z'), now)).toBeNull(); // the last slot is the newest
    expect(newestSlotBetween(daily, now - 400 * 86_400_000, now)?.toISOString()).toBe('2026-03-01T03:00:00.000Z');
  });

  it('a missing schedules directory is no error', async () => {
    rmSync(home.config.paths.schedulesDir, { recursive: true });
    const s = await start();
    expect(s.status()).toEqual({ schedules: [], errors: [] });
  });
});
