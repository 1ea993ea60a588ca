/**
 * Three runner processes on one queue: every step is executed exactly once (the simulated agent
 * appends a marker line to one shared file; we count them). (STRESS=1: 1,000 jobs, 4 runners.)
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { expectQueueInvariants, submit, tempHome, waitFor, type TempHome } from '../helpers/env.ts';
import { exited, killAll, spawnOrchestrator } from '../helpers/processes.ts';

const STRESS = process.env.STRESS === '1';
const JOBS = STRESS ? 1000 : 200;
const RUNNERS = STRESS ? 4 : 3;
let home: TempHome | undefined;
afterEach(async () => {
  await killAll();
  await home?.cleanup();
});

it(`race: ${RUNNERS} runner processes, ${JOBS} jobs, every step executed exactly once`, async () => {
  home = await tempHome({ RUNNER_CONCURRENCY: '2' });
  const marker = path.join(home.dir, 'markers.txt');
  const ids: string[] = [];
  for (let i = 0; i < JOBS; i++) {
    const job = await submit(home, { goal: `race ${i}`, steps: [{ step_id: `s${i}`, agent: (['claude', 'codex', 'opencode', 'gemini', 'droid'] as const)[i % 5]!, simulate: { marker_file: marker } }] });
    ids.push(job.job_id);
  }
  const runners = Array.from({ length: RUNNERS }, () => spawnOrchestrator(['runner'], home!.env));
  await waitFor(async () => ((await home!.queue.counts()).done === JOBS ? true : undefined), 240_000, `${JOBS} jobs done`);
  for (const r of runners) r.kill('SIGTERM');
  for (const r of runners) expect(await exited(r)).toBe(0);

  const lines = readFileSync(marker, 'utf8').trim().split('\n');
  const perStep = new Map<string, number>();
  for (const l of lines) perStep.set(l.split(' ')[0]!, (perStep.get(l.split(' ')[0]!) ?? 0) + 1);
  expect(perStep.size).toBe(JOBS);
  expect([...perStep.values()].every((n) => n === 1)).toBe(true);
  const where = expectQueueInvariants(home);
  expect([...where.values()].every((s) => s === 'done')).toBe(true);
  // the work was actually shared between the runners
  const ownerOf = (id: string): string => /claimed by runner (\S+)/.exec(readFileSync(path.join(home!.config.paths.artifactsRoot, id, 'logs.txt'), 'utf8'))?.[1] ?? '';
  const owners = new Set(ids.map(ownerOf));
  expect(owners.size).toBeGreaterThan(1);
}, 300_000);
