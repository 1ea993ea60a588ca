/**
 * Worker presets through the runner: a step's `worker` picks the agent's tools, docs, environment
 * and limits; the workspace gets CLAUDE.md/AGENTS.md and the matching skills, kept out of git.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { StepResult } from '../../contracts/index.ts';
import type { JobState } from '../../runner/state.ts';
import { clearPresetCache, DEFAULT_PRESETS_DIR } from '../../workers/presets.ts';
import { readJson, submit, waitForState, withRunner, type TempHome } from '../helpers/env.ts';

const rt = withRunner();
let home: TempHome;
async function start(env: Record<string, string> = {}): Promise<void> {
  clearPresetCache();
  home = await rt.start(env);
}
const art = (id: string, ...p: string[]): string => path.join(home.config.paths.artifactsRoot, id, ...p);
const PROBE = path.resolve(__dirname, '../fixtures/probe-agent.mjs');

describe('worker presets', () => {
  it('the workspace gets AGENTS.md/CLAUDE.md with only the preset\'s tools and the matching skills; none of it reaches patch.diff', async () => {
    await start();
    // the implementer's CLAUDE.md is replaced by the planner's AGENTS.md (read/grep/glob, opencode)
    const job = await submit(home, {
      goal: 'implement and plan',
      steps: [
        { step_id: 'implement', agent: 'claude', worker: 'claude-implementer', simulate: { files: { 'notes.md': 'ok\n' } } },
        { step_id: 'plan', agent: 'opencode', worker: 'opencode-planner', simulate: { files: { 'plan.md': 'plan\n' } } },
      ],
    });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('done');
    const work = readJson<JobState>(art(job.job_id, 'state.json')).workspace!.path;
    const agents = readFileSync(path.join(work, 'AGENTS.md'), 'utf8');
    expect(agents).toContain('Planner (OpenCode, no shell)');
    expect(agents).toContain('- `read`\n- `grep`\n- `glob`');
    expect(agents).toContain('skills/reviewing.md');
    expect(agents).not.toContain('skills/shell.md');
    expect(existsSync(path.join(work, 'CLAUDE.md'))).toBe(false);
    expect(existsSync(path.join(work, '.orchestrator/skills/reviewing.md'))).toBe(true);
    expect(existsSync(path.join(work, '.orchestrator/skills/editing.md'))).toBe(false);
    const patch = readFileSync(art(job.job_id, 'patch.diff'), 'utf8');
    expect(patch).toContain('notes.md');
    expect(patch).not.toContain('CLAUDE.md');
    expect(patch).not.toContain('AGENTS.md');
    expect(patch).not.toContain('.orchestrator');
    expect(readJson<StepResult>(art(job.job_id, 'steps', 'implement', 'result.json')).files_changed).toEqual(['notes.md']);
  });

  it('a new worker is only a JSON file: its command, tools, env and timeout reach the agent (ORCHESTRATOR_ALLOWED_TOOLS)', async () => {
    const dir = path.join(process.env.TMPDIR ?? '/tmp', `presets-${process.pid}-${Date.now()}`);
    mkdirSync(dir, { recursive: true });
    onTestFinished(() => rmSync(dir, { recursive: true, force: true })); // outside the home
    cpSync(DEFAULT_PRESETS_DIR, dir, { recursive: true });
    writeFileSync(path.join(dir, 'probe-worker.json'), JSON.stringify({ id: 'probe-worker', name: 'Probe', agent: { type: 'claude', command: ['node', PROBE] }, allowed_tools: ['Read', 'Bash'], env: { PRESET_FLAVOUR: 'vanilla' }, limits: { timeout_sec: 30 } }));
    await start({ ENABLE_REAL_CLI: '1', WORKER_PRESETS_DIR: dir });
    const job = await submit(home, { goal: 'probe', steps: [{ step_id: 'p', agent: 'claude', worker: 'probe-worker' }] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('done');
    const r = readJson<StepResult>(art(job.job_id, 'steps', 'p', 'result.json'));
    const probe = JSON.parse(r.summary.replace(/^PROBE /, '')) as { allowed_tools: string; claude_md: string; preset_env: string };
    expect(probe.allowed_tools).toBe('Read,Bash');
    expect(probe.preset_env).toBe('vanilla');
    expect(probe.claude_md).toContain('`Bash`');
    expect(readFileSync(art(job.job_id, 'steps', 'p', 'logs.txt'), 'utf8')).toContain('"session_id":"11111111-2222-3333-4444-555555555555"');
  });

  it('an unknown worker, or one for another agent, fails the step before anything runs (E_PREFLIGHT)', async () => {
    await start();
    const job = await submit(home, { goal: 'x', steps: [{ step_id: 'a', agent: 'claude', worker: 'nope', on_failure: 'continue' }, { step_id: 'b', agent: 'codex', worker: 'claude-reviewer' }] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('failed');
    expect(readJson<StepResult>(art(job.job_id, 'steps', 'a', 'result.json')).error).toMatchObject({ code: 'E_PREFLIGHT', message: expect.stringContaining('unknown worker preset "nope"') });
    expect(readJson<StepResult>(art(job.job_id, 'steps', 'b', 'result.json')).error).toMatchObject({ code: 'E_PREFLIGHT', message: expect.stringContaining('runs claude') });
  });

  it('a step asking only for tools its preset does not allow is refused (E_NOT_ALLOWED), not run unrestricted', async () => {
    await start();
    const marker = path.join(home.dir, 'ran.txt');
    const job = await submit(home, { goal: 'x', steps: [{ step_id: 'w', agent: 'claude', worker: 'claude-reviewer', allowed_tools: ['Write'], max_retries: 2, simulate: { marker_file: marker } }] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('failed');
    expect(readJson<StepResult>(art(job.job_id, 'steps', 'w', 'result.json'))).toMatchObject({ attempts: 1, error: { code: 'E_NOT_ALLOWED', message: expect.stringContaining('none of which worker preset "claude-reviewer" allows') } });
    expect(existsSync(marker)).toBe(false); // the agent never started
  });

  it('a step log says when its CLI cannot enforce allowed_tools (codex), and stays quiet for one that does', async () => {
    await start();
    const job = await submit(home, { goal: 'x', steps: [{ step_id: 'c', agent: 'codex', worker: 'codex-implementer' }, { step_id: 'r', agent: 'claude', worker: 'claude-reviewer', max_retries: 0 }] });
    await waitForState(home, job.job_id, ['done', 'failed']); // the reviewer may not write its notes: whatever its end, both steps ran
    expect(readJson<JobState>(art(job.job_id, 'state.json')).steps.map((s) => s.attempts)).toEqual([1, 1]);
    expect(readFileSync(art(job.job_id, 'steps', 'c', 'logs.txt'), 'utf8')).toContain('[orchestrator] note: codex has no switch to restrict its tools: allowed_tools (exec_command, apply_patch) is advice');
    expect(readFileSync(art(job.job_id, 'steps', 'r', 'logs.txt'), 'utf8')).not.toContain('no switch to restrict');
  });

  it('a step without a preset does not see the previous step\'s generated docs', async () => {
    await start();
    const job = await submit(home, { goal: 'x', steps: [{ step_id: 'a', agent: 'claude', worker: 'claude-implementer' }, { step_id: 'b', agent: 'codex' }] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('done');
    const work = readJson<JobState>(art(job.job_id, 'state.json')).workspace!.path;
    expect(existsSync(path.join(work, 'CLAUDE.md'))).toBe(false);
    expect(existsSync(path.join(work, '.orchestrator'))).toBe(false);
  });
});
