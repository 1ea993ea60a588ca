/**
 * Secrets through the real runner: a step that prints every planted kind of secret (one split
 * across writes), a SENSITIVE_ENV_VARS value split across writes and on stderr, and writes secrets
 * into the workspace (so they reach patch.diff). Afterwards no raw secret is anywhere under
 * artifacts/ or var/, the step failed with E_SECRETS naming file, line and rule, and
 * verify-artifacts agrees.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobResult, Step, StepResult } from '../../contracts/index.ts';
import { createRunner, type Runner } from '../../runner/runner.ts';
import type { JobState } from '../../runner/state.ts';
import { expectQueueInvariants, readJson, submit, tempHome, waitForState, type TempHome } from '../helpers/env.ts';
import { BIN } from '../helpers/processes.ts';
import { PLANTED, type Planted } from './corpus.ts';

const run = promisify(execFile);
const KNOWN = 'correct-horse-battery-staple-42';
const SCRIPT_SH = path.resolve(__dirname, '../../scripts/verify_artifacts.sh');

/** Prints the planted lines (base64 in argv, so the job file itself holds none), with splits. */
const LEAKER = `
const fs = require('fs');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const lines = JSON.parse(Buffer.from(process.argv[1], 'base64').toString('utf8'));
const split = Buffer.from(process.argv[2], 'base64').toString('utf8');
(async () => {
  fs.mkdirSync('config', { recursive: true });
  fs.writeFileSync('config/leak.env', lines.slice(0, 3).join('\\n') + '\\n');
  for (const l of lines) process.stdout.write('found: ' + l + '\\n');
  const k = process.env.DEPLOY_PASSPHRASE;
  process.stdout.write('env value: ' + k.slice(0, 9));
  await sleep(120);
  process.stdout.write(k.slice(9) + ' (split across writes)\\n');
  process.stderr.write('stderr sees ' + k + '\\n');
  process.stdout.write('split token ' + split.slice(0, 12));
  await sleep(120);
  process.stdout.write(split.slice(12) + '\\n');
  process.stdout.write('done\\n');
})();
`;

function leakerStep(stepId: string, planted: readonly Planted[]): Step {
  const b64 = Buffer.from(JSON.stringify(planted.map((p) => p.line))).toString('base64');
  const split = planted.find((p) => p.rule === 'github-token')!.secret;
  return { step_id: stepId, agent: 'command', command: ['node', '-e', LEAKER, b64, Buffer.from(split).toString('base64')], max_retries: 0 };
}

function allFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) out.push(...allFiles(p));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

/** Every raw secret (or key body line) found in any file under `dirs`. */
function leaks(dirs: string[]): string[] {
  const probes = [KNOWN, ...PLANTED.flatMap((p) => (p.rule === 'private-key' ? p.secret.split('\n').filter((l) => !l.startsWith('-----')) : [p.secret]))];
  const found: string[] = [];
  for (const f of dirs.flatMap(allFiles)) {
    const text = readFileSync(f).toString('latin1');
    for (const probe of probes) if (text.includes(probe)) found.push(`${f}: ${probe.slice(0, 6)}…`);
  }
  return found;
}

let home: TempHome;
let runner: Runner | undefined;
const saved = { ENV_ALLOWLIST: process.env.ENV_ALLOWLIST, DEPLOY_PASSPHRASE: process.env.DEPLOY_PASSPHRASE };

beforeEach(() => {
  process.env.ENV_ALLOWLIST = 'DEPLOY_PASSPHRASE';
  process.env.DEPLOY_PASSPHRASE = KNOWN;
});
afterEach(async () => {
  await runner?.stop({ force: true });
  runner = undefined;
  await home.cleanup();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

async function start(env: Record<string, string> = {}): Promise<void> {
  home = await tempHome({ SENSITIVE_ENV_VARS: 'DEPLOY_PASSPHRASE', ...env });
  runner = createRunner({ config: home.config });
  await runner.start();
}

const art = (id: string, ...p: string[]): string => path.join(home.config.paths.artifactsRoot, id, ...p);

describe('secrets: through the runner', () => {
  it('redacts every planted secret everywhere under artifacts/ and var/, and fails the step with E_SECRETS', async () => {
    await start();
    const job = await submit(home, { goal: 'leak secrets', steps: [leakerStep('leak', PLANTED), { step_id: 'after', agent: 'command', command: ['true'] }] });
    expect(await waitForState(home, job.job_id, ['done', 'failed', 'awaiting_approval'])).toBe('failed');
    await runner!.stop();
    runner = undefined;
    expectQueueInvariants(home);

    expect(leaks([home.config.paths.artifactsRoot, home.config.paths.varRoot])).toEqual([]);

    const step = readJson<StepResult>(art(job.job_id, 'steps', 'leak', 'result.json'));
    expect(step.status).toBe('failed');
    expect(step.secrets_check).toBe('failed');
    expect(step.error?.code).toBe('E_SECRETS');
    expect(step.error?.message).toMatch(/steps\/leak\/logs\.txt:\d+:\d+ /);
    expect(step.error?.message).toContain('steps/leak/patch.diff');
    const findings = (step.error?.details as { findings: Array<{ file: string; line: number; rule: string }> }).findings;
    const rules = new Set(findings.map((f) => f.rule));
    for (const p of PLANTED) expect(rules.has(p.rule)).toBe(true);
    expect(findings.some((f) => f.file === 'events.jsonl')).toBe(true);

    const result = readJson<JobResult>(art(job.job_id, 'result.json'));
    expect(result.status).toBe('failed');
    expect(result.secrets_check).toBe('failed');
    expect(result.steps.map((s) => s.status)).toEqual(['failed', 'skipped']);

    const logs = readFileSync(art(job.job_id, 'steps', 'leak', 'logs.txt'), 'utf8');
    expect(logs).toContain('env value: [REDACTED:env:DEPLOY_PASSPHRASE] (split across writes)');
    expect(logs).toContain('[stderr] stderr sees [REDACTED:env:DEPLOY_PASSPHRASE]');
    expect(logs).toContain('split token [REDACTED:github-token]');
    expect(logs).toContain('[REDACTED:private-key]');
    expect(readFileSync(art(job.job_id, 'steps', 'leak', 'patch.diff'), 'utf8')).toContain('[REDACTED:');
    // the events stream stays valid JSON lines
    for (const l of readFileSync(art(job.job_id, 'events.jsonl'), 'utf8').trim().split('\n')) expect(() => JSON.parse(l)).not.toThrow();

    // on demand, the same scan now finds nothing
    const verify = await run(process.execPath, [BIN, 'verify-artifacts', job.job_id], { env: { ...process.env, ...home.env } });
    expect(verify.stdout).toContain('secrets check passed');
  });

  it('SECRETS_ON_FINDING=needs_human parks the job for a person instead', async () => {
    await start({ SECRETS_ON_FINDING: 'needs_human' });
    const job = await submit(home, { goal: 'leak one', steps: [leakerStep('leak', PLANTED.slice(0, 4))] });
    expect(await waitForState(home, job.job_id, ['done', 'failed', 'awaiting_approval'])).toBe('awaiting_approval');
    const state = readJson<JobState>(art(job.job_id, 'state.json'));
    expect(state.waiting?.reason).toBe('needs_human');
    expect(state.waiting?.message).toMatch(/secret\(s\) found .*steps\/leak\/logs\.txt:\d+:\d+ aws-access-key-id/);
    expect(readJson<StepResult>(art(job.job_id, 'steps', 'leak', 'result.json')).secrets_check).toBe('failed');
    expect(leaks([home.config.paths.artifactsRoot, home.config.paths.varRoot])).toEqual([]);
  });

  it('real agent output (simulated claude/codex/opencode) passes clean; verify-artifacts and the script report planted files', async () => {
    await start();
    const job = await submit(home, { goal: 'Add a greeting module' });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('done');
    await runner!.stop();
    runner = undefined;
    for (const s of ['01_plan', '02_implement', '03_review']) expect(readJson<StepResult>(art(job.job_id, 'steps', s, 'result.json')).secrets_check).toBe('passed');
    expect(readJson<JobResult>(art(job.job_id, 'result.json')).secrets_check).toBe('passed');

    const env = { ...process.env, ...home.env };
    const clean = await run(SCRIPT_SH, [job.job_id], { env });
    expect(clean.stdout).toContain('secrets check passed');

    const slack = PLANTED.find((p) => p.rule === 'slack-token')!;
    appendFileSync(art(job.job_id, 'steps', '02_implement', 'report.md'), `\nnotes\ncreds ${slack.secret}\n`);
    const dirty = await run(SCRIPT_SH, [job.job_id, '--json'], { env }).then(() => undefined, (err: { code: number; stdout: string }) => err);
    expect(dirty?.code).toBe(1);
    const report = JSON.parse(dirty!.stdout) as { passed: boolean; findings: Array<{ file: string; line: number; rule: string }> };
    expect(report.passed).toBe(false);
    expect(report.findings).toEqual([expect.objectContaining({ file: 'steps/02_implement/report.md', rule: 'slack-token' })]);
    expect(dirty!.stdout).not.toContain(slack.secret);

    const fixed = await run(process.execPath, [BIN, 'verify-artifacts', job.job_id, '--fix'], { env }).then(() => undefined, (err: { code: number; stdout: string }) => err);
    expect(fixed?.code).toBe(1);
    expect(fixed?.stdout).toMatch(/steps\/02_implement\/report\.md:\d+:\d+: slack-token \(redacted\)/);
    expect(readFileSync(art(job.job_id, 'steps', '02_implement', 'report.md'), 'utf8')).toContain('creds [REDACTED:slack-token]');
    expect((await run(SCRIPT_SH, [job.job_id], { env })).stdout).toContain('secrets check passed');
  });
});
