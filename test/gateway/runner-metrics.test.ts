/**
 * Split deployment: `orchestrator runner` with RUNNER_METRICS_PORT serves its own /metrics, and
 * its job/step counters move as it runs jobs (the gateway alone cannot see them).
 */
import net from 'node:net';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { submit, tempHome, waitFor, waitForState, type TempHome } from '../helpers/env.ts';
import { exited, killAll, spawnOrchestrator } from '../helpers/processes.ts';

let home: TempHome;
beforeEach(async () => { home = await tempHome(); });
afterEach(async () => {
  await killAll();
  await home.cleanup();
});

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

it('a runner serves /metrics on loopback and counts the jobs and steps it finishes', async () => {
  const port = await freePort();
  const runner = spawnOrchestrator(['runner'], { ...home.env, RUNNER_METRICS_PORT: String(port), HOST: '127.0.0.1' });
  const url = `http://127.0.0.1:${port}/metrics`;
  const scrape = async (): Promise<string | undefined> => fetch(url).then((r) => (r.ok ? r.text() : undefined), () => undefined);
  const before = await waitFor(scrape, 30_000, 'runner metrics endpoint');
  expect(before).not.toMatch(/orchestrator_jobs_finished_total\{status="success"\} [1-9]/);
  const job = await submit(home, { goal: 'metrics', steps: [{ step_id: 'a', agent: 'claude' }, { step_id: 'b', agent: 'command', command: ['true'] }] });
  await waitForState(home, job.job_id, ['done']);
  const after = await waitFor(async () => {
    const text = await scrape();
    return text && /orchestrator_jobs_finished_total\{status="success"\} 1/.test(text) ? text : undefined;
  }, 10_000, 'counter');
  expect(after).toMatch(/orchestrator_steps_finished_total\{status="success",agent="claude"\} 1/);
  expect(after).toMatch(/orchestrator_cost_usd_total\{agent="claude"\} [0-9.e-]+/);
  expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
  runner.kill('SIGTERM');
  expect(await exited(runner)).toBe(0);
});
