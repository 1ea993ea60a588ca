/**
 * The runner, end to end with simulated agents (real child processes, real git, real files):
 * the default pipeline, the artifact contract, patches that apply, retries and routing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { JobResult, StepResult } from '../../contracts/index.ts';
import type { JobState } from '../../runner/state.ts';
import { expectQueueInvariants, readJson, submit, waitFor, waitForState, withRunner, type TempHome } from '../helpers/env.ts';

const rt = withRunner();
let home: TempHome;
beforeEach(async () => {
  home = await rt.start();
});

const art = (id: string, ...p: string[]): string => path.join(home.config.paths.artifactsRoot, id, ...p);

describe('runner: the default pipeline', () => {
  it('runs plan → implement → review and leaves the full, schema-valid artifact tree', async () => {
    const job = await submit(home, { goal: 'Add a greeting module' });
    expect(job.steps.map((s) => `${s.step_id}:${s.agent}`)).toEqual(['01_plan:opencode', '02_implement:codex', '03_review:claude']);
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('done');
    expectQueueInvariants(home);

    const result = readJson<JobResult>(art(job.job_id, 'result.json'));
    expect(result.status).toBe('success');
    expect(result.steps.map((s) => s.status)).toEqual(['success', 'success', 'success']);
    expect(result.metrics.cost_usd).toBeGreaterThan(0);
    expect(result.metrics.tokens_in).toBeGreaterThan(0);
    const impl = readJson<StepResult>(art(job.job_id, 'steps', '02_implement', 'result.json'));
    expect(impl.inputs?.files).toEqual(['steps/01_plan/report.md']);
    expect(impl.session_id).toBeTruthy();
    const state = readJson<JobState>(art(job.job_id, 'state.json'));
    expect(state.queue_state).toBe('done');
    const context = readJson<{ window: Array<{ step_id?: string }>; sessions: Record<string, string> }>(art(job.job_id, 'context.json'));
    expect(context.window.map((e) => e.step_id)).toEqual(['01_plan', '02_implement', '03_review']);
    expect(Object.keys(context.sessions).sort()).toEqual(['claude', 'codex', 'opencode']);
    expect(readFileSync(art(job.job_id, 'report.md'), 'utf8')).toContain('success');
  });

  it('writes a job patch.diff that `git apply` accepts on the base commit (new files included)', async () => {
    const job = await submit(home, { goal: 'Create files', steps: [{ step_id: 'write', agent: 'codex', simulate: { files: { 'src/new.txt': 'hello\n', 'README.md': '# hi\n' } } }] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('done');
    const patch = readFileSync(art(job.job_id, 'patch.diff'), 'utf8');
    expect(patch).toContain('src/new.txt');
    const state = readJson<JobState>(art(job.job_id, 'state.json'));
    const check = path.join(home.dir, 'apply-check');
    execFileSync('git', ['clone', '-q', state.workspace!.path, check]);
    execFileSync('git', ['-C', check, 'checkout', '-q', state.workspace!.base_commit]);
    execFileSync('git', ['-C', check, 'apply', '--check', art(job.job_id, 'patch.diff')]);
    execFileSync('git', ['-C', check, 'apply', art(job.job_id, 'patch.diff')]);
    expect(readFileSync(path.join(check, 'src/new.txt'), 'utf8')).toBe('hello\n');
    const step = readJson<StepResult>(art(job.job_id, 'steps', 'write', 'result.json'));
    expect(step.files_changed?.sort()).toEqual(['README.md', 'src/new.txt']);
    expect(step.change_status).toBe('changed');
  });

  it('leaves an empty patch.diff when nothing changed', async () => {
    const job = await submit(home, { goal: 'noop', steps: [{ step_id: 'noop', agent: 'command', command: ['true'] }] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('done');
    expect(readFileSync(art(job.job_id, 'patch.diff'), 'utf8')).toBe('');
    expect(readJson<StepResult>(art(job.job_id, 'steps', 'noop', 'result.json')).change_status).toBe('unchanged');
  });
});

describe('runner: the artifact tree while a job runs', () => {
  it('is complete while the agent runs (placeholders), and the real results replace them', async () => {
    const job = await submit(home, { goal: 'slow', steps: [{ step_id: 'slow', agent: 'command', command: ['sleep', '1'] }] });
    await waitFor(() => existsSync(art(job.job_id, 'steps', 'slow', 'result.json')) && existsSync(art(job.job_id, 'result.json')), 3000, 'placeholders');
    expect(readJson<JobState>(art(job.job_id, 'state.json')).status).toBe('running');
    for (const f of ['job.json', 'context.json', 'report.md', 'patch.diff', 'logs.txt', 'events.jsonl']) expect(existsSync(art(job.job_id, f)), f).toBe(true);
    for (const f of ['report.md', 'patch.diff', 'logs.txt']) expect(existsSync(art(job.job_id, 'steps', 'slow', f)), f).toBe(true);
    expect(readJson<StepResult>(art(job.job_id, 'steps', 'slow', 'result.json')).status).toBe('pending');
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('done');
    expect(readJson<StepResult>(art(job.job_id, 'steps', 'slow', 'result.json')).status).toBe('success');
  });

  it('20 fast jobs at once: every result, summary and context on disk is the real one (not a placeholder)', async () => {
    const jobs = await Promise.all(Array.from({ length: 20 }, (_, i) => submit(home, { goal: `fast ${i}`, steps: [{ step_id: 'fast', agent: 'command', command: ['true'] }] })));
    for (const job of jobs) expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('done');
    expectQueueInvariants(home);
    for (const job of jobs) {
      expect(readJson<StepResult>(art(job.job_id, 'steps', 'fast', 'result.json')).status).toBe('success');
      expect(readJson<JobResult>(art(job.job_id, 'result.json')).status).toBe('success');
      const context = readJson<{ window: Array<{ step_id?: string }> }>(art(job.job_id, 'context.json'));
      expect(context.window.map((e) => e.step_id)).toEqual(['fast']);
    }
  });
});

describe('runner: retries and on_failure', () => {
  it('retries a failing step with backoff and succeeds on a later attempt', async () => {
    const job = await submit(home, { goal: 'flaky', steps: [{ step_id: 's1', agent: 'claude', max_retries: 2, retry_backoff_sec: 0.05, simulate: { fail_attempts: 2 } }] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('done');
    const r = readJson<StepResult>(art(job.job_id, 'steps', 's1', 'result.json'));
    expect(r.status).toBe('success');
    expect(r.attempts).toBe(3);
    expect(readFileSync(art(job.job_id, 'steps', 's1', 'logs.txt'), 'utf8')).toContain('===== attempt 3');
  });

  it('stop: a step that exhausts its retries fails the job and skips the rest', async () => {
    const job = await submit(home, { goal: 'fails', steps: [{ step_id: 'a', agent: 'codex', max_retries: 0, simulate: { outcome: 'fail' } }, { step_id: 'b', agent: 'claude' }] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('failed');
    expectQueueInvariants(home);
    const result = readJson<JobResult>(art(job.job_id, 'result.json'));
    expect(result.status).toBe('failed');
    expect(result.steps.map((s) => s.status)).toEqual(['failed', 'skipped']);
    expect(result.error?.code).toBeTruthy();
  });

  it('continue: the failure is tolerated and the next step runs', async () => {
    const job = await submit(home, { goal: 'tolerate', steps: [{ step_id: 'a', agent: 'codex', max_retries: 0, on_failure: 'continue', simulate: { outcome: 'fail' } }, { step_id: 'b', agent: 'claude' }] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('done');
    expect(readJson<JobResult>(art(job.job_id, 'result.json')).steps.map((s) => s.status)).toEqual(['failed', 'success']);
  });

  it('goto: a failure jumps to the named step', async () => {
    const job = await submit(home, { goal: 'goto', steps: [
      { step_id: 'a', agent: 'codex', max_retries: 0, on_failure: 'goto:notify', simulate: { outcome: 'fail' } },
      { step_id: 'b', agent: 'claude' },
      { step_id: 'notify', agent: 'command', command: ['true'] },
    ] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('failed');
    expect(readJson<JobResult>(art(job.job_id, 'result.json')).steps.map((s) => s.status)).toEqual(['failed', 'skipped', 'success']);
  });

  it('timeout: kills the agent and records a timeout', async () => {
    const job = await submit(home, { goal: 'slow', steps: [{ step_id: 'slow', agent: 'gemini', timeout_sec: 1, max_retries: 0, simulate: { outcome: 'timeout' } }] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('failed');
    const r = readJson<StepResult>(art(job.job_id, 'steps', 'slow', 'result.json'));
    expect(r.status).toBe('timeout');
    expect(r.error?.code).toBe('timeout');
    expect(existsSync(art(job.job_id, 'steps', 'slow', 'patch.diff'))).toBe(true);
  });
});

describe('runner: inputs and bad files', () => {
  it('bounds a step\'s inputs and records the truncation', async () => {
    await rt.restart({ ...home.config, maxInputArtifactChars: 100, maxInputArtifactsFiles: 2 });
    const job = await submit(home, { goal: 'inputs', steps: [
      { step_id: 'a', agent: 'codex', simulate: { files: { 'big.txt': 'x'.repeat(5000) } } },
      { step_id: 'b', agent: 'claude', input_artifacts: ['steps/a/patch.diff', 'steps/a/report.md', 'steps/a/logs.txt', 'steps/zzz/missing.md'] },
    ] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('done');
    const b = readJson<StepResult>(art(job.job_id, 'steps', 'b', 'result.json'));
    expect(b.inputs?.files).toEqual(['steps/a/patch.diff', 'steps/a/report.md']);
    expect(b.inputs?.truncated).toBe(true);
    expect(b.inputs?.notes?.join('\n')).toMatch(/patch\.diff: cut from \d+ to 100 chars/);
    expect(b.inputs?.notes?.join('\n')).toMatch(/2 input file\(s\) dropped \(MAX_INPUT_ARTIFACTS_FILES=2\)/);
    expect(readFileSync(art(job.job_id, 'steps', 'b', 'report.md'), 'utf8')).toContain('Inputs were truncated');
  });

  it('a garbage file dropped into pending/ is moved aside and the runner keeps going', async () => {
    writeFileSync(path.join(home.queue.dir('pending'), 'garbage-0001.json'), '{"goal": ');
    const job = await submit(home, { goal: 'after garbage', steps: [{ step_id: 's', agent: 'command', command: ['true'] }] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('done');
    await waitFor(() => readdirSync(home.queue.corruptDir).some((f) => f.endsWith('garbage-0001.json.reason.txt')) || undefined, 5000, 'quarantine');
    expect(existsSync(path.join(home.queue.dir('pending'), 'garbage-0001.json'))).toBe(false);
  });
});
