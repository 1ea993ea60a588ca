/**
 * WORKSPACE_MODE (lib/config.ts, runner/workspace.ts): `git` (default) gives every job its own git
 * workspace, fresh ones copied from one template repository; `plain` runs the step in an empty
 * per-job directory without git: empty patches, change_status "unknown". Also the one-spawn step
 * commit (changed and unchanged trees).
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobResult, StepResult } from '../../contracts/index.ts';
import { isSafeJobId } from '../../fsqueue/states.ts';
import { loadConfig } from '../../lib/config.ts';
import { createRunner, type Runner } from '../../runner/runner.ts';
import type { JobState } from '../../runner/state.ts';
import { commitAll, dropSpares, git, isPlainWorkspace, prepareWorkspace, warmSpare } from '../../runner/workspace.ts';
import { expectQueueInvariants, readJson, submit, tempHome, waitFor, waitForState, type TempHome } from '../helpers/env.ts';

let home: TempHome | undefined;
let runner: Runner | undefined;

afterEach(async () => {
  await runner?.stop({ force: true });
  await home?.cleanup();
  runner = undefined;
  home = undefined;
});

async function start(env: Record<string, string>): Promise<{ home: TempHome; art: (id: string, ...p: string[]) => string }> {
  home = await tempHome(env);
  runner = createRunner({ config: home.config });
  await runner.start();
  const h = home;
  return { home: h, art: (id, ...p) => path.join(h.config.paths.artifactsRoot, id, ...p) };
}

const writeFile = (name: string, text: string): [string, ...string[]] => ['sh', '-c', `printf '${text}\\n' > ${name}`];

describe('WORKSPACE_MODE', () => {
  it('is git by default, plain on request, and refuses anything else', () => {
    expect(loadConfig({}, '/tmp').workspaceMode).toBe('git');
    expect(loadConfig({ WORKSPACE_MODE: 'plain' }, '/tmp').workspaceMode).toBe('plain');
    expect(() => loadConfig({ WORKSPACE_MODE: 'none' }, '/tmp')).toThrow(/WORKSPACE_MODE/);
  });

  it('plain: the step runs in an empty per-job directory, no git; patches are empty and change_status is "unknown"', async () => {
    const { home: h, art } = await start({ WORKSPACE_MODE: 'plain' });
    const job = await submit(h, { goal: 'plain', steps: [{ step_id: 'w', agent: 'command', command: writeFile('out.txt', 'hello') }] });
    expect(await waitForState(h, job.job_id, ['done', 'failed'])).toBe('done');
    expectQueueInvariants(h);

    const work = path.join(h.config.paths.workspacesRoot, job.job_id, 'work');
    expect(readFileSync(path.join(work, 'out.txt'), 'utf8')).toBe('hello\n');
    expect(existsSync(path.join(work, '.git'))).toBe(false);
    expect(await isPlainWorkspace(h.config.paths.workspacesRoot, job.job_id)).toBe(true);

    const step = readJson<StepResult>(art(job.job_id, 'steps', 'w', 'result.json'));
    expect(step.status).toBe('success');
    expect(step.change_status).toBe('unknown');
    expect(readFileSync(art(job.job_id, 'steps', 'w', 'patch.diff'), 'utf8')).toBe('');
    const result = readJson<JobResult>(art(job.job_id, 'result.json'));
    expect(result.change_status).toBe('unknown');
    expect(readFileSync(art(job.job_id, 'patch.diff'), 'utf8')).toBe('');
    const state = readJson<JobState>(art(job.job_id, 'state.json'));
    expect(state.workspace).toBeNull();
    expect(state.steps[0]).toMatchObject({ base_commit: null, head_commit: null });
  });

  it('git: fresh workspaces are copies of one template (shared empty base commit), the template is never taken for a job', async () => {
    const { home: h, art } = await start({});
    const a = await submit(h, { goal: 'a', steps: [{ step_id: 'w', agent: 'command', command: writeFile('a.txt', 'from a') }] });
    const b = await submit(h, { goal: 'b', steps: [{ step_id: 'w', agent: 'command', command: ['true'] }] });
    for (const j of [a, b]) expect(await waitForState(h, j.job_id, ['done', 'failed'])).toBe('done');
    expectQueueInvariants(h);

    const sa = readJson<JobState>(art(a.job_id, 'state.json'));
    const sb = readJson<JobState>(art(b.job_id, 'state.json'));
    expect(sa.workspace?.source).toBe('fresh');
    expect(sa.workspace?.base_commit).toMatch(/^[0-9a-f]{40}$/);
    expect(sb.workspace?.base_commit).toBe(sa.workspace?.base_commit);

    // a: the change is committed and in both patches; b: nothing changed
    const stepA = readJson<StepResult>(art(a.job_id, 'steps', 'w', 'result.json'));
    expect(stepA.change_status).toBe('changed');
    expect(stepA.files_changed).toEqual(['a.txt']);
    expect(readFileSync(art(a.job_id, 'patch.diff'), 'utf8')).toContain('+from a');
    expect(readJson<StepResult>(art(b.job_id, 'steps', 'w', 'result.json')).change_status).toBe('unchanged');
    expect(readFileSync(art(b.job_id, 'patch.diff'), 'utf8')).toBe('');

    // the template (and the runner's spare) sit beside the job workspaces under names that are not job ids (retention skips them)
    const extra = readdirSync(h.config.paths.workspacesRoot).filter((n) => n !== a.job_id && n !== b.job_id);
    expect(extra.length).toBeGreaterThanOrEqual(1);
    expect(extra.length).toBeLessThanOrEqual(2);
    for (const n of extra) expect(isSafeJobId(n), n).toBe(false);
  });

  it('git: the runner keeps one spare fresh repository ready; a claim moves it into place and the stop removes it', async () => {
    const { home: h, art } = await start({});
    const root = h.config.paths.workspacesRoot;
    const sparesNow = (): string[] => readdirSync(root).filter((n) => n.startsWith('.spare+'));
    await waitFor(() => sparesNow().length === 1 && existsSync(path.join(root, sparesNow()[0]!, 'work', '.git', 'orchestrator-base')), 5000, 'a spare');
    const first = sparesNow()[0]!;
    expect(first).toContain(`.spare+${process.pid}.`);

    const job = await submit(h, { goal: 'w', steps: [{ step_id: 'w', agent: 'command', command: writeFile('w.txt', 'spare') }] });
    expect(await waitForState(h, job.job_id, ['done', 'failed'])).toBe('done');
    const ws = readJson<JobState>(art(job.job_id, 'state.json')).workspace!;
    expect(ws.source).toBe('fresh');
    // a usable repository on the template's base commit, whose change is committed and patched
    expect((await git(ws.path, ['rev-list', '--max-parents=0', 'HEAD'])).stdout.trim()).toBe(ws.base_commit);
    expect(readFileSync(art(job.job_id, 'patch.diff'), 'utf8')).toContain('+spare');
    // the spare was taken (it is gone) and another one is made
    expect(existsSync(path.join(root, first))).toBe(false);
    await waitFor(() => sparesNow().length === 1, 5000, 'the next spare');

    await runner!.stop();
    runner = undefined;
    expect(sparesNow()).toEqual([]);
  });

  it('git: dropping the spares right after one was taken leaves none behind (the next is not made after a stop)', async () => {
    home = await tempHome();
    const root = home.config.paths.workspacesRoot;
    mkdirSync(root, { recursive: true });
    const sparesNow = (): string[] => readdirSync(root).filter((n) => n.startsWith('.spare+'));
    warmSpare(root);
    await waitFor(() => sparesNow().length === 1 || undefined, 5000, 'a spare');
    const ws = await prepareWorkspace(root, 'job-spare-0001', path.join(home.dir, 'no-such-dir'));
    expect(existsSync(path.join(ws.path, '.git'))).toBe(true);
    await dropSpares(root); // at once: the refill timer is still pending
    await new Promise((r) => setTimeout(r, 100)); // past the refill delay
    expect(sparesNow()).toEqual([]);
  });

  it('git: runner processes starting together on a fresh root all get the one template (8 rounds of 4 processes)', async () => {
    home = await tempHome();
    const script = `const { prepareWorkspace } = await import(${JSON.stringify(path.resolve(__dirname, '../../runner/workspace.ts'))}); const [root, id] = process.argv.slice(-2); await prepareWorkspace(root, id, '/nonexistent-workdir'); console.log('ok');`;
    for (let round = 0; round < 8; round++) {
      const root = path.join(home.dir, `ws-${round}`);
      const results = await Promise.all(Array.from({ length: 4 }, (_, i) => new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, root, `job-race-${round}-${i}000`], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        child.on('exit', (code) => resolve({ code, out }));
      })));
      for (const r of results) expect(r, `round ${round}: ${r.out}`).toMatchObject({ code: 0 });
      const bases = new Set(readdirSync(root).filter(isSafeJobId).map((id) => readFileSync(path.join(root, id, 'work', '.git', 'orchestrator-base'), 'utf8').split(' ')[0]));
      expect(bases.size).toBe(1);
    }
  }, 120_000);

  it('git: a spare left by a dead runner is removed at the next start, a live one\'s is kept', async () => {
    home = await tempHome();
    const root = home.config.paths.workspacesRoot;
    mkdirSync(path.join(root, '.spare+999999999.dead0001', '.git'), { recursive: true });
    mkdirSync(path.join(root, `.spare+${process.ppid}.live0001`, '.git'), { recursive: true });
    runner = createRunner({ config: home.config });
    await runner.start();
    const names = readdirSync(root);
    expect(names).not.toContain('.spare+999999999.dead0001');
    expect(names).toContain(`.spare+${process.ppid}.live0001`);
  });

  it('commitAll: one call commits added, changed and deleted files, and reports an unchanged tree as such', async () => {
    home = await tempHome();
    const ws = await prepareWorkspace(home.config.paths.workspacesRoot, 'job-commit-0001', path.join(home.dir, 'no-such-dir'));
    const same = await commitAll(ws.path, 'nothing', ws.base_commit);
    expect(same).toEqual({ head: ws.base_commit, changed: false });

    await git(ws.path, ['status']); // a usable repository
    writeFileSync(path.join(ws.path, 'x.txt'), 'x\n');
    const first = await commitAll(ws.path, "message with 'quotes' and $VARS", ws.base_commit);
    expect(first.changed).toBe(true);
    expect(first.head).toMatch(/^[0-9a-f]{40}$/);
    expect((await git(ws.path, ['log', '-1', '--format=%s'])).stdout.trim()).toBe("message with 'quotes' and $VARS");

    rmSync(path.join(ws.path, 'x.txt'));
    const second = await commitAll(ws.path, 'delete', first.head);
    expect(second.changed).toBe(true);
    expect((await git(ws.path, ['diff', '--name-status', first.head, second.head])).stdout.trim()).toBe('D\tx.txt');
  });

  it('commitAll: what git add -A would not stage is "unchanged"; a mode change is a change', async () => {
    home = await tempHome();
    const ws = await prepareWorkspace(home.config.paths.workspacesRoot, 'job-commit-0002', path.join(home.dir, 'no-such-dir'));
    writeFileSync(path.join(ws.path, '.gitignore'), 'build/\n');
    writeFileSync(path.join(ws.path, 'tool.sh'), 'echo hi\n');
    const base = await commitAll(ws.path, 'base', ws.base_commit);
    expect(base.changed).toBe(true);
    mkdirSync(path.join(ws.path, 'build'));
    writeFileSync(path.join(ws.path, 'build', 'out.o'), 'ignored\n'); // ignored
    mkdirSync(path.join(ws.path, 'empty-dir')); // git tracks no directories
    writeFileSync(path.join(ws.path, 'tool.sh'), 'echo hi\n'); // rewritten, same content
    expect(await commitAll(ws.path, 'nothing', base.head)).toEqual({ head: base.head, changed: false });
    chmodSync(path.join(ws.path, 'tool.sh'), 0o755);
    const mode = await commitAll(ws.path, 'chmod', base.head);
    expect(mode.changed).toBe(true);
    expect((await git(ws.path, ['diff', '--summary', base.head, mode.head])).stdout).toContain('mode change 100644 => 100755 tool.sh');
  });
});
