/**
 * The `orchestrator` command as a user meets it: real processes, exit codes (0 ok, 1 job failed,
 * 2 bad input), errors that say what and where without a stack trace, and the recovery commands.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JOB_FILES, STEP_FILES } from '../../runner/artifacts.ts';
import type { JobState } from '../../runner/state.ts';
import { readJson, submit, tempHome, waitFor, waitForState, type TempHome } from '../helpers/env.ts';
import { agentProcessesOf, BIN, exited, killAll, spawnOrchestrator } from '../helpers/processes.ts';

const run = promisify(execFile);
let home: TempHome;
beforeEach(async () => { home = await tempHome(); });
afterEach(async () => {
  await killAll();
  await home.cleanup();
});

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...args], { env: { ...process.env, ...home.env }, cwd: home.dir });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function file(name: string, content: string): string {
  const p = path.join(home.dir, name);
  writeFileSync(p, content);
  return p;
}

describe('cli: bad input exits 2 and says what and where', () => {
  it.each([
    ['missing file', ['submit', 'nope.json'], /E_FILE_NOT_FOUND.*nope\.json: cannot read \(ENOENT\)/],
    ['invalid JSON', ['submit', '@bad'], /invalid JSON at line 2, column/],
    ['schema violation', ['submit', '@schema'], /\$\.steps\[0\]\.agent: unknown agent "kimi"/],
    ['unknown command', ['frobnicate'], /Unknown argument: frobnicate/],
    ['bad state filter', ['list', '--state', 'weird'], /--state must be one of/],
    ['traversal id', ['status', '../../etc'], /invalid job id/],
  ])('%s', async (_name, args, pattern) => {
    const argv = args.map((a) => (a === '@bad' ? file('bad.json', '{\n  "goal": }') : a === '@schema' ? file('s.json', JSON.stringify({ goal: 'g', steps: [{ step_id: 'a', agent: 'kimi' }] })) : a));
    const r = await cli(...argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('a duplicate job_id is refused with exit 2', async () => {
    const f = file('j.json', JSON.stringify({ goal: 'g', job_id: 'cli-dup-0001' }));
    expect((await cli('submit', f)).code).toBe(0);
    const r = await cli('submit', f);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/E_JOB_EXISTS.*cli-dup-0001 already exists \(in pending\)/);
  });
});

describe('cli: jobs', () => {
  it('submit --wait follows a job to the end: exit 0 on success, 1 on failure', async () => {
    spawnOrchestrator(['runner'], home.env);
    const ok = await cli('submit', '--wait', file('ok.json', JSON.stringify({ goal: 'ok', steps: [{ step_id: 'a', agent: 'claude' }] })));
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/▶ a \(claude\) attempt 1[\s\S]*✔ a success[\s\S]*job success/);
    const bad = await cli('submit', '--wait', file('bad.json', JSON.stringify({ goal: 'bad', steps: [{ step_id: 'a', agent: 'codex', max_retries: 0, simulate: { outcome: 'fail' } }] })));
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/job failed/);
  });

  it('status, list and logs', async () => {
    const job = await submit(home, { goal: 'listed', job_id: 'listed-job-01', steps: [{ step_id: 'a', agent: 'command', command: ['echo', 'hello from a command'] }] });
    const queued = await cli('status', job.job_id, '--json');
    expect(JSON.parse(queued.stdout)).toMatchObject({ job_id: 'listed-job-01', queue_state: 'pending' });
    spawnOrchestrator(['runner'], home.env);
    await waitForState(home, job.job_id, ['done']);
    expect((await cli('status', job.job_id)).stdout).toMatch(/job listed-job-01: done \(success\)/);
    expect((await cli('list', '--state', 'done')).stdout).toContain('listed-job-01');
    expect((await cli('logs', job.job_id, '--step', 'a')).stdout).toContain('hello from a command');
    expect((await cli('status')).stdout).toMatch(/done: 1/);
  });

  it('approve and reject from the command line', async () => {
    const a = await submit(home, { goal: 'a', policy: { requires_approval: true }, steps: [{ step_id: 's', agent: 'command', command: ['true'] }] });
    const b = await submit(home, { goal: 'b', policy: { requires_approval: true } });
    expect((await cli('approve', '--job', a.job_id)).code).toBe(0);
    expect(await home.queue.locate(a.job_id)).toBe('pending');
    expect((await cli('reject', '--job', b.job_id, '--reason', 'not now')).code).toBe(0);
    expect(await home.queue.locate(b.job_id)).toBe('failed');
    const again = await cli('approve', '--job', b.job_id);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/is failed, not awaiting_approval/);
  });

  it('retry puts a failed job back in pending at the step it stopped at; a rejected one is refused', async () => {
    const c = await submit(home, { goal: 'c', policy: { requires_approval: true }, steps: [{ step_id: 'only', agent: 'command', command: ['true'] }] });
    expect((await cli('cancel', '--job', c.job_id)).code).toBe(0);
    const ok = await cli('retry', '--job', c.job_id, '--note', 'wanted after all');
    expect(ok).toMatchObject({ code: 0, stdout: `retrying ${c.job_id} from step only → pending\n` });
    expect(await home.queue.locate(c.job_id)).toBe('pending');

    const r = await submit(home, { goal: 'r', policy: { requires_approval: true } });
    expect((await cli('reject', '--job', r.job_id)).code).toBe(0);
    const no = await cli('retry', '--job', r.job_id);
    expect(no.code).toBe(2);
    expect(no.stderr).toMatch(/^error \[E_BAD_STATE\]: job \S+ was rejected .*a rejection is final; submit a new job/);
    expect(no.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('doctor checks the machine', async () => {
    const r = await cli('doctor');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/✔ queue directories/);
    expect(r.stdout).toMatch(/✔ SQLite/);
    expect(r.stdout).toMatch(/✔ git: git version/);
    // a real launcher is started and runs `true` (perl-base is Essential on Debian)
    if (spawnSync('perl', ['-e', '1']).status === 0) expect(r.stdout).toMatch(/✔ warm launchers: steps start in 2 launcher\(s\)/);
    else expect(r.stdout).toMatch(/· warm launchers: unavailable/);
    const off = await run(process.execPath, [BIN, 'doctor'], { env: { ...process.env, ...home.env, RUNNER_WARM_LAUNCHERS: '0' }, cwd: home.dir });
    expect(off.stdout).toMatch(/· warm launchers: off/);
  });
});

describe('cli: recovery after a runner crash', () => {
  it('recover kills the orphaned agent, counts the attempt and resumes at the first unfinished step; unlock refuses a live owner', async () => {
    const job = await submit(home, { goal: 'crash', job_id: 'recover-job-01', steps: [
      { step_id: 'first', agent: 'codex' },
      // a silent process: it will not die of a broken stdout pipe when its runner is killed
      { step_id: 'second', agent: 'command', command: ['sleep', '60'], max_retries: 2 },
      { step_id: 'third', agent: 'gemini' },
    ] });
    const runner = spawnOrchestrator(['runner'], { ...home.env, RUNNER_LEASE_STALE_MS: '60000' });
    const statePath = path.join(home.config.paths.artifactsRoot, job.job_id, 'state.json');
    await waitFor(() => { try { return readJson<JobState>(statePath).steps[1]?.status === 'running' || undefined; } catch { return undefined; } }, 30_000, 'second step running');
    await waitFor(() => agentProcessesOf('recover-job-01', home.dir).length > 0 || undefined, 10_000, 'agent process');

    const refused = await cli('unlock', '--job', job.job_id);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/held by a live runner/);

    runner.kill('SIGKILL');
    await exited(runner);
    expect(agentProcessesOf('recover-job-01', home.dir).length).toBeGreaterThan(0); // the orphan outlived its runner
    const rec = await cli('recover');
    expect(rec.code).toBe(0);
    expect(rec.stdout).toMatch(/recover-job-01 → pending .*attempt 1 of second counted; 1 agent run\(s\) killed/);
    expect(agentProcessesOf('recover-job-01', home.dir)).toEqual([]);
    const state = readJson<JobState>(statePath);
    expect(state.steps.map((s) => [s.step_id, s.status, s.attempts])).toEqual([['first', 'success', 1], ['second', 'retryable', 1], ['third', 'pending', 0]]);
    expect(state.cursor).toBe('second');
  });

  it('recover also kills an agent its runner died too soon to record in the lease (found by its job id)', async () => {
    const job = await submit(home, { goal: 'unrecorded', job_id: 'recover-job-02', steps: [{ step_id: 'only', agent: 'command', command: ['sleep', '60'], max_retries: 2 }] });
    const runner = spawnOrchestrator(['runner'], { ...home.env, RUNNER_LEASE_STALE_MS: '60000' });
    await waitFor(() => agentProcessesOf('recover-job-02', home.dir).length > 0 || undefined, 30_000, 'agent process');
    runner.kill('SIGKILL');
    await exited(runner);
    // as if the runner had died between the spawn and the lease update: no run recorded
    const leaseFile = path.join(home.config.paths.queueRoot, 'leases', `${job.job_id}.json`);
    writeFileSync(leaseFile, JSON.stringify({ ...readJson<Record<string, unknown>>(leaseFile), runs: [] }));
    expect(agentProcessesOf('recover-job-02', home.dir).length).toBeGreaterThan(0);
    const rec = await cli('recover');
    expect(rec.code).toBe(0);
    expect(rec.stdout).toMatch(/recover-job-02 → pending .*1 agent run\(s\) killed/);
    expect(agentProcessesOf('recover-job-02', home.dir)).toEqual([]);
    // killed a moment after the spawn, before any placeholder: recovery completes the tree
    const art = (...p: string[]): string => path.join(home.config.paths.artifactsRoot, job.job_id, ...p);
    for (const f of JOB_FILES) expect(existsSync(art(f)), f).toBe(true);
    for (const f of STEP_FILES) expect(existsSync(art('steps', 'only', f)), `steps/only/${f}`).toBe(true);
    expect(readJson<JobState>(art('state.json')).queue_state).toBe('pending');
  });
});
