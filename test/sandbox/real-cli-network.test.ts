/**
 * policy.network = "deny" with a real CLI: the agent runs in its own network namespace and reaches
 * its model endpoint (the fake server on 127.0.0.1) only through the runner's relay; a model
 * endpoint that is not on loopback cannot be relayed, so the step does not run (fails closed).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { probeSandbox } from '../../workers/sandbox/probe.ts';
import type { FakeModelServer } from '../fake-model/server.ts';
import { cliVersion, startRig, startServer, type RealCliRig } from '../real-cli/harness.ts';

const probe = await probeSandbox();
const claude = await cliVersion('claude');
const codex = await cliVersion('codex');
if (!probe.ok) console.log(`[sandbox] SKIP real CLI under network deny: ${probe.reason}`);
if (!claude || !codex) console.log('[sandbox] SKIP real CLI under network deny: claude/codex are not runnable (npm install the devDependencies)');

describe.skipIf(!probe.ok || !claude || !codex)('real CLIs with policy.network=deny', () => {
  let server: FakeModelServer;
  const rigs: RealCliRig[] = [];
  beforeAll(async () => {
    server = await startServer();
    server.setScenario('net', { actions: [{ kind: 'write', path: 'net.txt', content: 'via relay\n' }], final: 'Wrote net.txt.' });
  });
  afterAll(async () => {
    await server.close();
  });
  afterEach(async () => {
    for (const r of rigs.splice(0)) await r.stop();
  });

  for (const agent of ['claude', 'codex', 'opencode'] as const) {
    it(`${agent} reaches its loopback model endpoint through the relay and edits the workspace`, async () => {
      const r = await startRig(server);
      rigs.push(r);
      const { job, state, step, jobState } = await r.run({ goal: 'net', policy: { sandbox: true, network: 'deny' }, steps: [{ step_id: 's', agent, prompt: '[fake:net] write', max_retries: 0 }] });
      expect(state, JSON.stringify(jobState.steps[0]?.error)).toBe('done');
      expect(step('s').files_changed).toEqual(['net.txt']);
      const log = readFileSync(r.art(job.job_id, 'steps', 's', 'logs.txt'), 'utf8');
      expect(log).toMatch(/network denied \(own network namespace\); model endpoint 127\.0\.0\.1:\d+ relayed/);
      expect(readFileSync(path.join(jobState.workspace!.path, 'net.txt'), 'utf8')).toBe('via relay\n');
    });
  }

  it('a model endpoint off loopback cannot be relayed: the step does not run (E_PREFLIGHT)', async () => {
    const saved = process.env.ANTHROPIC_BASE_URL;
    process.env.ANTHROPIC_BASE_URL = 'https://api.anthropic.example';
    try {
      const r = await startRig(server);
      rigs.push(r);
      const before = server.requests.length;
      const { state, step } = await r.run({ goal: 'net', policy: { network: 'deny' }, steps: [{ step_id: 's', agent: 'claude', prompt: '[fake:net] write', max_retries: 2 }] });
      expect(state).toBe('failed');
      expect(step('s').error?.code).toBe('E_PREFLIGHT');
      expect(step('s').error?.message).toContain('not on loopback');
      expect(step('s').attempts).toBe(1);
      expect(server.requests.length).toBe(before);
    } finally {
      process.env.ANTHROPIC_BASE_URL = saved;
    }
  });
});
