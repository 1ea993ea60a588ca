/**
 * Per-job workspaces: `workspaces/<job_id>/work` is a git repository (a clone of the job's workdir
 * when that is inside a git work tree, otherwise a fresh repository with an empty base commit).
 * Every step attempt starts from its base commit and its changes are committed afterwards, so a
 * step's patch is `git diff base..head` and the job's patch is `git diff job_base..HEAD`; both
 * apply with `git apply` on their base (new and binary files included).
 */
import { execa } from 'execa';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { OrchestratorError } from '../lib/errors.ts';
import { pathExists } from '../lib/fsutil.ts';

const GIT_ENV = {
  GIT_TERMINAL_PROMPT: '0',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'agent-orchestrator',
  GIT_AUTHOR_EMAIL: 'orchestrator@localhost',
  GIT_COMMITTER_NAME: 'agent-orchestrator',
  GIT_COMMITTER_EMAIL: 'orchestrator@localhost',
};
const GIT_FLAGS = ['-c', 'core.hooksPath=/dev/null', '-c', 'commit.gpgsign=false', '-c', 'core.autocrlf=false', '-c', 'init.defaultBranch=main', '-c', 'advice.detachedHead=false'];

export async function git(cwd: string, args: string[], opts: { reject?: boolean } = {}): Promise<{ stdout: string; exitCode: number; stderr: string }> {
  const r = await execa('git', [...GIT_FLAGS, ...args], { cwd, env: GIT_ENV, stdin: 'ignore', reject: false, stripFinalNewline: false, maxBuffer: 512 * 1024 * 1024 });
  const exitCode = r.exitCode ?? -1;
  if (exitCode !== 0 && opts.reject !== false) {
    throw new OrchestratorError('E_INTERNAL', `git ${args[0]} failed in ${cwd}: ${String(r.stderr).trim().slice(0, 500)}`, { args, exitCode });
  }
  return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode };
}

export interface WorkspaceInfo {
  path: string;
  base_commit: string;
  source: 'clone' | 'fresh';
}

/** The git top level containing `dir`, or null when `dir` is not inside a work tree. */
async function gitTopLevel(dir: string): Promise<string | null> {
  if (!(await pathExists(dir))) return null;
  const r = await git(dir, ['rev-parse', '--show-toplevel'], { reject: false });
  return r.exitCode === 0 ? r.stdout.trim() : null;
}

async function head(dir: string): Promise<string> {
  return (await git(dir, ['rev-parse', 'HEAD'])).stdout.trim();
}

/**
 * Create (or find, after a restart) the job's workspace. Creation is atomic: built in a temp
 * directory beside it, then renamed into place, so a crash never leaves a half-made `work/`.
 */
export async function prepareWorkspace(workspacesRoot: string, jobId: string, workdir: string): Promise<WorkspaceInfo> {
  const jobDir = path.join(workspacesRoot, jobId);
  const work = path.join(jobDir, 'work');
  if (await pathExists(path.join(work, '.git'))) {
    const base = (await git(work, ['rev-list', '--max-parents=0', 'HEAD'])).stdout.trim().split('\n').pop() ?? (await head(work));
    const source = (await git(work, ['config', '--get', 'remote.origin.url'], { reject: false })).exitCode === 0 ? 'clone' : 'fresh';
    // the recorded base is the commit we started from: the first one we made or the clone's HEAD
    const recorded = (await git(work, ['config', '--get', 'orchestrator.base'], { reject: false })).stdout.trim();
    return { path: work, base_commit: recorded || base, source };
  }
  await fsp.mkdir(jobDir, { recursive: true });
  const tmp = path.join(jobDir, `.work.${randomBytes(4).toString('hex')}.tmp`);
  const top = await gitTopLevel(workdir);
  let source: 'clone' | 'fresh';
  if (top) {
    await git(jobDir, ['clone', '--quiet', '--no-hardlinks', top, tmp]);
    source = 'clone';
  } else {
    await fsp.mkdir(tmp);
    await git(tmp, ['init', '--quiet']);
    await git(tmp, ['commit', '--quiet', '--allow-empty', '--no-verify', '-m', 'orchestrator: base (empty workspace)']);
    source = 'fresh';
  }
  const base = await head(tmp);
  await git(tmp, ['config', 'orchestrator.base', base]);
  await fsp.rm(work, { recursive: true, force: true });
  await fsp.rename(tmp, work);
  return { path: work, base_commit: base, source };
}

/** Throw away everything since `commit` (tracked changes and untracked files). */
export async function resetTo(work: string, commit: string): Promise<void> {
  await git(work, ['reset', '--quiet', '--hard', commit]);
  await git(work, ['clean', '-q', '-f', '-d', '-x']);
}

/** Commit whatever the agent left in the tree. Returns the new HEAD and whether anything changed. */
export async function commitAll(work: string, message: string): Promise<{ head: string; changed: boolean }> {
  await git(work, ['add', '-A']);
  const r = await git(work, ['commit', '--quiet', '--no-verify', '-m', message], { reject: false });
  if (r.exitCode !== 0 && !/nothing (added )?to commit|no changes added/.test(r.stdout + r.stderr)) {
    throw new OrchestratorError('E_INTERNAL', `git commit failed in ${work}: ${(r.stderr || r.stdout).trim().slice(0, 500)}`);
  }
  return { head: await head(work), changed: r.exitCode === 0 };
}

export async function diff(work: string, from: string, to: string): Promise<string> {
  if (from === to) return '';
  return (await git(work, ['diff', '--binary', '--no-color', '--no-ext-diff', '--full-index', from, to])).stdout;
}

export interface DiffStats {
  files: string[];
  added: number;
  removed: number;
}

/** Files and line counts of a unified diff produced by `git diff` (pure). */
export function diffStats(patch: string): DiffStats {
  const files: string[] = [];
  let added = 0;
  let removed = 0;
  for (const line of patch.split('\n')) {
    if (line.startsWith('diff --git ')) {
      const m = / b\/(.*)$/.exec(line);
      if (m?.[1]) files.push(m[1]);
    } else if (line.startsWith('+') && !line.startsWith('+++ ')) added++;
    else if (line.startsWith('-') && !line.startsWith('--- ')) removed++;
  }
  return { files, added, removed };
}
