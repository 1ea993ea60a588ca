/**
 * policy.sandbox / policy.network = "deny" under bubblewrap, for real: an agent (a `command` step,
 * which runs under the same executor and sandbox as the agents) tries to write outside its
 * workspace, read another job's workspace, tamper with the artifacts and open a socket. Sandboxed,
 * everything fails and the step says so; the same agent unsandboxed escapes (the control).
 * Skipped, with the reason printed, where bwrap cannot create namespaces.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRunner, type Runner } from '../../runner/runner.ts';
import { probeSandbox } from '../../workers/sandbox/probe.ts';
import type { StepResult } from '../../contracts/index.ts';
import type { JobState } from '../../runner/state.ts';
import { readJson, submit, tempHome, waitForState, type TempHome } from '../helpers/env.ts';
import { agentProcessesOf, connectionCounter, type ConnectionCounter } from '../helpers/processes.ts';

const probe = await probeSandbox();
if (!probe.ok) console.log(`[sandbox] SKIP: ${probe.reason}`);
const FIXTURE = path.join(__dirname, 'fixtures', 'escape.mjs');

describe.skipIf(!probe.ok)('sandbox (bubblewrap)', () => {
  let home: TempHome;
  let runner: Runner;
  let server: ConnectionCounter;
  let outsideDir: string;

  beforeAll(async () => {
    server = await connectionCounter();
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(async () => {
    home = await tempHome();
    runner = createRunner({ config: home.config });
    await runner.start();
    // outside /tmp: the sandbox has a private /tmp, so a write there would prove nothing
    mkdirSync('/var/tmp', { recursive: true });
    outsideDir = mkdtempSync('/var/tmp/orch-sandbox-');
    server.reset();
  });
  afterEach(async () => {
    await runner.stop({ force: true });
    await home.cleanup();
    rmSync(outsideDir, { recursive: true, force: true });
  });

  async function runEscape(policy: { sandbox?: boolean; network?: 'deny' | 'allow' }): Promise<{ state: string; step: StepResult; log: string; jobState: JobState; artifacts: string }> {
    const other = path.join(home.config.paths.workspacesRoot, 'other-job-0001', 'work');
    mkdirSync(other, { recursive: true });
    writeFileSync(path.join(other, 'secret.txt'), 'the other job\n');
    const jobId = `escape-${Math.random().toString(16).slice(2, 10)}`;
    const artifacts = path.join(home.config.paths.artifactsRoot, jobId, 'logs.txt');
    const cfg = { outside: path.join(outsideDir, 'escape.txt'), otherJob: path.join(other, 'secret.txt'), artifacts, port: server.port };
    const job = await submit(home, { job_id: jobId, goal: 'escape', policy, steps: [{ step_id: 'escape', agent: 'command', command: ['node', FIXTURE, JSON.stringify(cfg)], max_retries: 0, timeout_sec: 30 }] });
    const state = await waitForState(home, job.job_id, ['done', 'failed']);
    const dir = path.join(home.config.paths.artifactsRoot, job.job_id);
    return { state, step: readJson<StepResult>(path.join(dir, 'steps', 'escape', 'result.json')), log: readFileSync(path.join(dir, 'steps', 'escape', 'logs.txt'), 'utf8'), jobState: readJson<JobState>(path.join(dir, 'state.json')), artifacts };
  }

  it('sandbox + network deny: writing outside, reading another job, tampering with artifacts and opening a socket all fail; the step reports each', async () => {
    const r = await runEscape({ sandbox: true, network: 'deny' });
    expect(r.log).toContain('[orchestrator] bubblewrap');
    expect(r.log).toMatch(/BLOCKED write outside the workspace: (EROFS|EACCES|ENOENT)/);
    expect(r.log).toMatch(/BLOCKED read another job's workspace: ENOENT/);
    expect(r.log).toMatch(/BLOCKED write into the artifacts: (EROFS|ENOENT|EACCES)/);
    expect(r.log).toMatch(/BLOCKED open a socket to 127\.0\.0\.1:\d+: ECONNREFUSED/);
    expect(r.log).not.toContain('ESCAPED');
    expect(r.step.summary).toContain('BLOCKED');
    expect(r.state).toBe('done');
    expect(existsSync(path.join(outsideDir, 'escape.txt'))).toBe(false);
    expect(readFileSync(r.artifacts, 'utf8')).not.toContain('tampered');
    expect(server.count).toBe(0);
    // the workspace itself stayed writable
    expect(r.step.files_changed).toEqual(['inside.txt']);
  });

  it('network deny alone also sandboxes: the socket is refused', async () => {
    const r = await runEscape({ network: 'deny' });
    expect(r.log).toMatch(/BLOCKED open a socket/);
    expect(server.count).toBe(0);
  });

  it('control: the same agent without a sandbox escapes (the fixture is honest)', async () => {
    const r = await runEscape({});
    expect(r.log).toContain('ESCAPED write outside the workspace');
    expect(r.log).toContain("ESCAPED read another job's workspace");
    expect(r.log).toContain('ESCAPED open a socket');
    expect(r.state).toBe('failed');
    expect(server.count).toBe(1);
  });

  it('a timeout kills the sandboxed process tree (bwrap, its namespace and everything in it)', async () => {
    const job = await submit(home, { goal: 'hang', policy: { sandbox: true, network: 'deny' }, steps: [{ step_id: 'hang', agent: 'command', command: ['sh', '-c', 'sleep 60 & sleep 60'], timeout_sec: 2, max_retries: 0 }] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('failed');
    expect(readJson<StepResult>(path.join(home.config.paths.artifactsRoot, job.job_id, 'steps', 'hang', 'result.json')).status).toBe('timeout');
    expect(agentProcessesOf(job.job_id)).toEqual([]);
  });

  it('a simulated agent step runs inside the sandbox and its edits land in patch.diff', async () => {
    const job = await submit(home, { goal: 'sim in sandbox', policy: { sandbox: true }, steps: [{ step_id: 's', agent: 'claude', simulate: { files: { 'src/a.txt': 'a\n' } } }] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('done');
    const dir = path.join(home.config.paths.artifactsRoot, job.job_id);
    expect(readFileSync(path.join(dir, 'patch.diff'), 'utf8')).toContain('src/a.txt');
    expect(readFileSync(path.join(dir, 'steps', 's', 'logs.txt'), 'utf8')).toContain('[orchestrator] bubblewrap');
  });
});
