/**
 * The scenarios every real CLI goes through (one file per CLI calls realCliSuite): a job whose
 * first step creates and edits a file and whose second step resumes the session; auth, rate-limit
 * and server errors; a stalled model stream killed by the idle watchdog and by the step timeout;
 * allowed_tools enforced by the CLI itself.
 * A CLI that cannot run here is skipped with the reason printed.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { AdapterAgentName } from '../../workers/registry.ts';
import type { FakeModelServer } from '../fake-model/server.ts';
import { USAGE } from '../fake-model/script.ts';
import { agentProcessesOf } from '../helpers/processes.ts';
import { cliVersion, FAKE_KEYS, startRig, startServer, type RealCliRig } from './harness.ts';

export interface CliCaps {
  binary: string;
  /** Resuming works offline (droid's does not: it fetches the session from Factory's servers). */
  resume: boolean;
  /** The CLI's retries on a 500 can be capped (CLAUDE_CODE_MAX_RETRIES, CODEX_MAX_RETRIES). */
  cappedRetries: boolean;
  /** Its own 429 retries end within seconds (droid backs off for minutes, with no knob: tested on recorded output). */
  fastRateLimit: boolean;
  /** Operator variables for the transient-500 case (gemini needs more than one attempt of its own). */
  transientEnv?: Record<string, string>;
  /**
   * Read-only tools, in the CLI's own names, for the allowed_tools case: the CLI must offer the
   * model exactly these (claude offers every tool and refuses at use: its own test, in claude.test.ts).
   */
  readOnlyTools?: string[];
  /** USD comes from the CLI itself (claude; opencode with a priced model), else from workers/prices.json. */
  reportsCost: boolean;
}

export interface RealCliContext {
  rig(env?: Record<string, string>): Promise<RealCliRig>;
  server(): FakeModelServer;
}

let seq = 0;
/** A scenario name unique to this file and test (the server is shared by the file's tests). */
export const uniq = (base: string): string => `${base}${++seq}`;

export async function realCliSuite(agent: AdapterAgentName, caps: CliCaps, extra?: (t: RealCliContext) => void): Promise<void> {
  const version = await cliVersion(caps.binary);
  if (!version) console.log(`[real-cli] SKIP ${agent}: \`${caps.binary} --version\` does not run here (npm install the devDependencies)`);
  else console.log(`[real-cli] ${agent}: ${caps.binary} ${version}`);

  describe.skipIf(!version)(`real ${agent} CLI (${version ?? 'not runnable'}) through our adapter and runner`, () => {
    let server: FakeModelServer;
    const rigs: RealCliRig[] = [];
    beforeAll(async () => {
      server = await startServer();
    });
    afterAll(async () => {
      await server?.close();
    });
    afterEach(async () => {
      for (const r of rigs.splice(0)) await r.stop();
    });
    const rig = async (env: Record<string, string> = {}): Promise<RealCliRig> => {
      const r = await startRig(server, env);
      rigs.push(r);
      return r;
    };

    it('edits the workspace; patch.diff, tokens, cost and session id land in the artifacts; a second step resumes the session', async () => {
      const r = await rig();
      const create = uniq('create');
      const extend = uniq('extend');
      server.setScenario(create, { actions: [{ kind: 'write', path: 'hello.txt', content: 'hello one\n' }, { kind: 'edit', path: 'hello.txt', old: 'one', new: 'two' }], final: 'Created hello.txt.' });
      server.setScenario(extend, { actions: [{ kind: 'write', path: 'src/second.txt', content: 'second\n' }], final: 'Added src/second.txt.' });
      const { job, state, jobState, step } = await r.run({
        goal: 'real CLI end to end',
        steps: [
          { step_id: '01_write', agent, prompt: `[fake:${create}] Create hello.txt, then change one to two.`, max_retries: 0 },
          { step_id: '02_resume', agent, prompt: `[fake:${extend}] Add src/second.txt.`, resume_session: caps.resume, max_retries: 0 },
        ],
      });
      expect(state, JSON.stringify(jobState.steps.map((s) => s.error))).toBe('done');
      const work = jobState.workspace!.path;
      expect(readFileSync(path.join(work, 'hello.txt'), 'utf8')).toBe('hello two\n');
      expect(readFileSync(path.join(work, 'src/second.txt'), 'utf8')).toBe('second\n');
      const patch = readFileSync(r.art(job.job_id, 'patch.diff'), 'utf8');
      expect(patch).toContain('+hello two');
      expect(patch).toContain('src/second.txt');

      const s1 = step('01_write');
      expect(s1.status).toBe('success');
      expect(s1.summary).toContain('Created hello.txt.');
      expect(s1.files_changed).toEqual(['hello.txt']);
      // tokens: what the CLI reported, which is what the fake server served it
      const served = server.usage(create);
      expect(s1.metrics.tokens_in).toBeGreaterThanOrEqual(USAGE.input * 2);
      expect(s1.metrics.tokens_in).toBeLessThanOrEqual(served.input);
      expect(s1.metrics.tokens_out).toBeGreaterThanOrEqual(USAGE.output * 2);
      expect(s1.metrics.cost_usd).toBeGreaterThan(0);
      expect(s1.session_id).toBeTruthy();
      if (caps.reportsCost) {
        // the USD in result.json is the CLI's own figure, from its log
        const log = readFileSync(r.art(job.job_id, 'steps', '01_write', 'logs.txt'), 'utf8');
        expect(log).toMatch(/"(total_cost_usd|cost)":\s*[0-9.]+/);
      }
      const s2 = step('02_resume');
      expect(s2.status).toBe('success');
      expect(s2.files_changed).toEqual(['src/second.txt']);
      const second = server.requests.filter((q) => q.scenario === extend && q.tools.length > 0);
      expect(second.length).toBeGreaterThan(0);
      if (caps.resume) {
        // the resumed conversation carries the first step's prompt: the session really continued
        expect(second.every((q) => q.prompts >= 2)).toBe(true);
        expect(s2.session_id).toBe(s1.session_id);
      }
      // the fake credentials reached the server, and never an artifact
      expect(server.requests.filter((q) => q.scenario === create).every((q) => q.apiKey !== null)).toBe(true);
      for (const f of ['logs.txt', 'events.jsonl', 'result.json', 'report.md', 'context.json', 'steps/01_write/logs.txt']) {
        const text = readFileSync(r.art(job.job_id, f), 'utf8');
        for (const v of Object.values(FAKE_KEYS)) expect(text).not.toContain(v);
      }
      const context = JSON.parse(readFileSync(r.art(job.job_id, 'context.json'), 'utf8')) as { sessions: Record<string, string> };
      expect(context.sessions[agent]).toBe(s2.session_id);
    });

    it('a 401 is an auth error: the step fails at once and is not retried', async () => {
      const r = await rig();
      const name = uniq('auth');
      server.setScenario(name, { error: { status: 401 } });
      const { state, step } = await r.run({ goal: 'auth', steps: [{ step_id: 's', agent, prompt: `[fake:${name}] go`, max_retries: 2, retry_backoff_sec: 0 }] });
      expect(state).toBe('failed');
      const s = step('s');
      expect(s.error?.code).toBe('auth');
      expect(s.attempts).toBe(1);
    });

    it.skipIf(!caps.fastRateLimit)('a 429 parks the job as rate_limited with a reset time (the retry is not counted)', async () => {
      const r = await rig();
      const name = uniq('ratelimit');
      server.setScenario(name, { error: { status: 429, resetInSec: 120 } });
      const before = Date.now();
      const { state, jobState } = await r.run({ goal: 'rl', steps: [{ step_id: 's', agent, prompt: `[fake:${name}] go`, max_retries: 0 }] });
      expect(state).toBe('awaiting_approval');
      expect(jobState.waiting?.reason).toBe('rate_limited');
      expect(Date.parse(jobState.waiting?.resume_after ?? '')).toBeGreaterThan(before);
      expect(jobState.steps[0]?.status).toBe('retryable');
      expect(jobState.steps[0]?.error?.code).toBe('rate_limit');
    });

    it.skipIf(!caps.cappedRetries)('a persistent 500 is a model_error after the CLI\'s capped retries; the runner retries the step', async () => {
      const r = await rig();
      const name = uniq('servererr');
      server.setScenario(name, { error: { status: 500 } });
      const { state, step } = await r.run({ goal: '500', steps: [{ step_id: 's', agent, prompt: `[fake:${name}] go`, max_retries: 1, retry_backoff_sec: 0 }] }, undefined, 120_000);
      expect(state).toBe('failed');
      const s = step('s');
      expect(s.error?.code, s.error?.message).toBe('model_error');
      expect(s.attempts).toBe(2);
    });

    it('a transient 500 is retried by the CLI itself and the step succeeds', async () => {
      const r = await rig();
      const name = uniq('flaky');
      server.setScenario(name, { error: { status: 500, times: 1 }, actions: [{ kind: 'write', path: 'after-500.txt', content: 'ok\n' }], final: 'Recovered.' });
      const saved = Object.fromEntries(Object.keys(caps.transientEnv ?? {}).map((k) => [k, process.env[k]]));
      Object.assign(process.env, caps.transientEnv ?? {});
      onTestFinished(() => void Object.assign(process.env, saved));
      const { state, step } = await r.run({ goal: 'flaky', steps: [{ step_id: 's', agent, prompt: `[fake:${name}] go`, max_retries: 0 }] }, undefined, 120_000);
      expect(state).toBe('done');
      expect(step('s').files_changed).toEqual(['after-500.txt']);
    });

    it('a stalled model stream: the idle watchdog kills the CLI\'s whole process tree', async () => {
      const r = await rig({ RUNNER_MAX_IDLE_SEC: '3' });
      const name = uniq('stall');
      server.setScenario(name, { stall: true });
      const { job, state, step } = await r.run({ goal: 'stall', steps: [{ step_id: 's', agent, prompt: `[fake:${name}] go`, max_retries: 0, timeout_sec: 120 }] });
      expect(state).toBe('failed');
      const s = step('s');
      expect(s.status).toBe('timeout');
      expect(s.error?.code).toBe('idle');
      expect(agentProcessesOf(job.job_id)).toEqual([]);
    });

    it('a stalled model stream: timeout_sec kills the CLI', async () => {
      const r = await rig();
      const name = uniq('stallt');
      server.setScenario(name, { stall: true });
      const { job, state, step } = await r.run({ goal: 'stall', steps: [{ step_id: 's', agent, prompt: `[fake:${name}] go`, max_retries: 0, timeout_sec: 4 }] });
      expect(state).toBe('failed');
      expect(step('s').status).toBe('timeout');
      expect(step('s').error?.code).toBe('timeout');
      expect(agentProcessesOf(job.job_id)).toEqual([]);
      expect(existsSync(r.art(job.job_id, 'steps', 's', 'patch.diff'))).toBe(true);
    });

    it.skipIf(!caps.readOnlyTools)('allowed_tools is enforced by the CLI itself: no write or shell tool is even offered to the model', async () => {
      const r = await rig();
      const name = uniq('denied');
      const allowed = caps.readOnlyTools ?? [];
      server.setScenario(name, { actions: [{ kind: 'write', path: 'denied.txt', content: 'x\n' }], final: 'I had no tool to write with.' });
      const { jobState } = await r.run({ goal: 'denied', steps: [{ step_id: 's', agent, prompt: `[fake:${name}] write`, allowed_tools: allowed, max_retries: 0 }] });
      const offered = [...new Set(server.requests.filter((q) => q.scenario === name).flatMap((q) => q.tools))];
      expect(offered).toEqual(expect.arrayContaining(allowed));
      expect(offered.filter((tool) => !allowed.includes(tool))).toEqual([]);
      expect(existsSync(path.join(jobState.workspace!.path, 'denied.txt'))).toBe(false);
    });

    extra?.({ rig, server: () => server });
  });
}
