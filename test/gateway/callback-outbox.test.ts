/**
 * Callbacks survive a restart: a delivery still being retried when its process stops (or dies)
 * stays in var/callbacks/ and the next dispatcher resumes it, with the same delivery id, once
 * its owner process is gone.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { CallbackDispatcher } from '../../gateway/callbacks.ts';
import { silentLogger } from '../../lib/logger.ts';
import { tempHome, waitFor, type TempHome } from '../helpers/env.ts';

let home: TempHome;
let receiver: Server;
let answer = 503;
const deliveries: string[] = [];
beforeEach(async () => {
  home = await tempHome({ CALLBACK_SECRET: 'outbox-secret-for-tests', CALLBACK_BACKOFF_MS: '100', CALLBACK_MAX_ATTEMPTS: '10' });
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      deliveries.push(String(req.headers['x-orchestrator-delivery']));
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
});
afterEach(async () => {
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
  await home.cleanup();
});

it('a delivery interrupted by shutdown is resumed by the next dispatcher and delivered once the receiver is back', async () => {
  const jobId = 'outbox-job-0001';
  const artDir = path.join(home.config.paths.artifactsRoot, jobId);
  mkdirSync(artDir, { recursive: true });
  writeFileSync(path.join(artDir, 'job.json'), JSON.stringify({ job_id: jobId, callback_url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` }));
  writeFileSync(path.join(artDir, 'logs.txt'), '');
  const outbox = path.join(home.config.paths.varRoot, 'callbacks');

  const first = new CallbackDispatcher({ config: home.config, log: silentLogger() });
  first.notify({ event: 'job.finished', job_id: jobId, status: 'success', queue_state: 'done' });
  await waitFor(() => deliveries.length >= 2 || undefined, 10_000, 'two failed attempts');
  await first.close(0);
  const [entryName] = readdirSync(outbox);
  expect(entryName).toMatch(/\.json$/);
  // the first process is gone: hand its entry a dead pid
  const deadPid = spawnSync('true').pid;
  const entryFile = path.join(outbox, entryName!);
  const entry = JSON.parse(readFileSync(entryFile, 'utf8')) as { owner: { pid: number }; payload: { delivery_id: string } };
  writeFileSync(entryFile, JSON.stringify({ ...entry, owner: { ...entry.owner, pid: deadPid } }));

  answer = 200;
  const second = new CallbackDispatcher({ config: home.config, log: silentLogger() });
  expect(await second.resume()).toBe(1);
  await second.idle();
  expect(readdirSync(outbox)).toEqual([]);
  expect(new Set(deliveries)).toEqual(new Set([entry.payload.delivery_id]));
  const log = readFileSync(path.join(artDir, 'logs.txt'), 'utf8');
  expect(log).toMatch(/deferred before attempt|interrupted by shutdown/);
  expect(log).toMatch(/resumed after \d+ attempt\(s\)/);
  expect(log).toMatch(/delivered \(HTTP 200/);
  await second.close();
});

it('an entry whose owner is still alive is left alone', async () => {
  const outbox = path.join(home.config.paths.varRoot, 'callbacks');
  mkdirSync(outbox, { recursive: true });
  writeFileSync(path.join(outbox, 'x.json'), JSON.stringify({ url: 'http://127.0.0.1:1/', attempts: 0, owner: { pid: process.ppid, host: (await import('node:os')).hostname() }, payload: { job_id: 'x', event: 'job.finished', delivery_id: 'x' } }));
  const d = new CallbackDispatcher({ config: home.config, log: silentLogger() });
  expect(await d.resume()).toBe(0);
  await d.close();
});
