/**
 * The safety switches through the runner: a step whose binary is not allowed, or too old, fails
 * before anything runs (E_NOT_ALLOWED / E_PREFLIGHT, not retried); SANDBOX_CLEAR_ENV and
 * ENV_ALLOWLIST decide what an agent's environment holds; a secret passed to an agent never reaches
 * an artifact; NON_GIT_WORKDIR_STATUS stops real agents from working in a fresh, empty repository.
 */
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StepResult } from '../../contracts/index.ts';
import type { JobState } from '../../runner/state.ts';
import { clearVersionCache } from '../../workers/safety/preflight.ts';
import { readJson, submit, waitForState, withRunner, type TempHome } from '../helpers/env.ts';

const saved: Record<string, string | undefined> = {};
// after each test: the runner stops and its home goes, then process.env is put back
const rt = withRunner({
  after: () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
      delete saved[k];
    }
  },
});
let home: TempHome;

async function start(env: Record<string, string> = {}, processEnv: Record<string, string> = {}): Promise<void> {
  for (const [k, v] of Object.entries(processEnv)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  clearVersionCache();
  home = await rt.start(env);
}
const art = (id: string, ...p: string[]): string => path.join(home.config.paths.artifactsRoot, id, ...p);
const step = (id: string, s: string): StepResult => readJson<StepResult>(art(id, 'steps', s, 'result.json'));

describe('binary allowlist', () => {
  it('ALLOWED_BINARIES: a claude step on a codex-only machine fails with E_NOT_ALLOWED before anything runs, not retried', async () => {
    await start({ ALLOWED_BINARIES: 'codex,git' });
    const marker = path.join(home.dir, 'ran.txt');
    const job = await submit(home, { goal: 'x', steps: [{ step_id: 's', agent: 'claude', max_retries: 2, simulate: { marker_file: marker } }] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('failed');
    const r = step(job.job_id, 's');
    expect(r.error?.code).toBe('E_NOT_ALLOWED');
    expect(r.error?.message).toContain('binary "claude" is not in ALLOWED_BINARIES (codex, git)');
    expect(r.attempts).toBe(1);
    expect(existsSync(marker)).toBe(false);
    expect(readFileSync(art(job.job_id, 'steps', 's', 'logs.txt'), 'utf8')).toContain('E_NOT_ALLOWED');
  });

  it('policy.allowed_binaries applies to command steps too, intersected with ALLOWED_BINARIES', async () => {
    await start({ ALLOWED_BINARIES: 'git,echo' });
    const job = await submit(home, {
      goal: 'x',
      policy: { allowed_binaries: ['git'] },
      steps: [
        { step_id: 'ok', agent: 'command', command: ['git', '--version'] },
        { step_id: 'no', agent: 'command', command: ['echo', 'hi'], max_retries: 1 },
      ],
    });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('failed');
    expect(step(job.job_id, 'ok').status).toBe('success');
    expect(step(job.job_id, 'no').error).toMatchObject({ code: 'E_NOT_ALLOWED', message: expect.stringContaining("policy.allowed_binaries (git)") });
  });
});

describe('MIN_BINARY_VERSIONS preflight (real mode)', () => {
  it('a binary older than required fails with E_PREFLIGHT and a clear message; a new enough one runs', async () => {
    await start({ ENABLE_REAL_CLI: '1', MIN_BINARY_VERSIONS: 'git=99.0.0,node=1.0' });
    const job = await submit(home, { goal: 'x', steps: [{ step_id: 'node', agent: 'command', command: ['node', '-e', 'console.log(1)'] }, { step_id: 'git', agent: 'command', command: ['git', 'status'], max_retries: 2 }] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('failed');
    expect(step(job.job_id, 'node').status).toBe('success');
    const r = step(job.job_id, 'git');
    expect(r.error?.code).toBe('E_PREFLIGHT');
    expect(r.error?.message).toMatch(/^git \d+\.\d+\.\d+ is older than the required 99\.0\.0 \(MIN_BINARY_VERSIONS\); upgrade it$/);
    expect(r.attempts).toBe(1);
  });
});

describe('the agent environment', () => {
  const printEnv: [string, ...string[]] = ['node', '-e', 'for (const k of Object.keys(process.env).sort()) console.log("ENV " + k + "=" + process.env[k])'];

  it('by default: the base variables and ENV_ALLOWLIST only, never the runner\'s secrets', async () => {
    await start({}, { ORCH_TEST_SECRET_TOKEN: 'tok-never-passed-0123456789', MY_ALLOWED_VAR: 'allowed-value', ENV_ALLOWLIST: 'MY_ALLOWED_VAR' });
    const job = await submit(home, { goal: 'x', steps: [{ step_id: 'env', agent: 'command', command: printEnv }] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('done');
    const log = readFileSync(art(job.job_id, 'steps', 'env', 'logs.txt'), 'utf8');
    expect(log).toContain('ENV MY_ALLOWED_VAR=allowed-value');
    expect(log).toContain('ENV HOME=');
    expect(log).not.toContain('ORCH_TEST_SECRET_TOKEN');
  });

  it('SANDBOX_CLEAR_ENV=1: PATH plus the allowlist (and TMPDIR and the run markers) only', async () => {
    await start({}, { SANDBOX_CLEAR_ENV: '1', MY_ALLOWED_VAR: 'allowed-value', ENV_ALLOWLIST: 'MY_ALLOWED_VAR' });
    const job = await submit(home, { goal: 'x', steps: [{ step_id: 'env', agent: 'command', command: printEnv }] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('done');
    const names = readFileSync(art(job.job_id, 'steps', 'env', 'logs.txt'), 'utf8').split('\n').filter((l) => l.startsWith('ENV ')).map((l) => l.slice(4, l.indexOf('=')));
    expect(names.sort()).toEqual(['MY_ALLOWED_VAR', 'ORCH_ATTEMPT', 'ORCH_JOB_ID', 'ORCH_RUN_ID', 'ORCH_STEP_ID', 'PATH', 'TMPDIR']);
  });

  it('a secret an agent is given and prints never reaches an artifact (SENSITIVE_ENV_VARS)', async () => {
    const value = 'custom-secret-value-0123456789';
    await start({ SENSITIVE_ENV_VARS: 'MY_CUSTOM_CRED' }, { MY_CUSTOM_CRED: value, ENV_ALLOWLIST: 'MY_CUSTOM_CRED' });
    const job = await submit(home, { goal: 'x', steps: [{ step_id: 'leak', agent: 'command', command: ['node', '-e', 'console.log("cred=" + process.env.MY_CUSTOM_CRED); require("fs").writeFileSync("leak.txt", process.env.MY_CUSTOM_CRED)'] }] });
    await waitForState(home, job.job_id, ['done', 'failed']);
    const dir = art(job.job_id);
    for (const f of ['logs.txt', 'events.jsonl', 'result.json', 'report.md', 'context.json', 'patch.diff', 'steps/leak/logs.txt', 'steps/leak/result.json', 'steps/leak/patch.diff', 'steps/leak/report.md']) {
      expect(readFileSync(path.join(dir, f), 'utf8'), f).not.toContain(value);
    }
    expect(readFileSync(path.join(dir, 'steps', 'leak', 'logs.txt'), 'utf8')).toContain('[REDACTED:env:MY_CUSTOM_CRED]');
  });
});

describe('NON_GIT_WORKDIR_STATUS (real mode)', () => {
  it('needs_human: a workdir outside git parks the job before anything runs', async () => {
    await start({ ENABLE_REAL_CLI: '1', NON_GIT_WORKDIR_STATUS: 'needs_human' });
    mkdirSync(path.join(home.dir, 'plain'), { recursive: true });
    const job = await submit(home, { goal: 'x', workdir: 'plain', steps: [{ step_id: 's', agent: 'command', command: ['true'] }] });
    expect(await waitForState(home, job.job_id, ['awaiting_approval', 'done', 'failed'])).toBe('awaiting_approval');
    const state = readJson<JobState>(art(job.job_id, 'state.json'));
    expect(state.waiting).toMatchObject({ reason: 'needs_human', message: expect.stringContaining('is not a git repository') });
    expect(state.steps[0]?.attempts).toBe(0);
  });

  it('failed: the job fails with E_PREFLIGHT; unset: it runs in a fresh repository', async () => {
    await start({ ENABLE_REAL_CLI: '1', NON_GIT_WORKDIR_STATUS: 'failed' });
    const job = await submit(home, { goal: 'x', steps: [{ step_id: 's', agent: 'command', command: ['true'] }] });
    expect(await waitForState(home, job.job_id, ['awaiting_approval', 'done', 'failed'])).toBe('failed');
    expect(readJson<JobState>(art(job.job_id, 'state.json')).error).toMatchObject({ code: 'E_PREFLIGHT' });
  });
});
