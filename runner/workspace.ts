/**
 * Per-job workspaces: `workspaces/<job_id>/work` is a git repository (a clone of the job's workdir
 * when that is inside a git work tree, otherwise a fresh repository with an empty base commit).
 * Every step attempt starts from its base commit and its changes are committed afterwards, so a
 * step's patch is `git diff base..head` and the job's patch is `git diff job_base..HEAD`; both
 * apply with `git apply` on their base (new and binary files included).
 */
import { execFile } from 'node:child_process';
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

const gitEnv = { ...GIT_ENV, PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/' };

/**
 * Run git (argv only). Plain child_process.execFile: git runs several times per step, and each
 * spawn forks the runner, so the lighter the call the better (see bench/core.ts).
 */
export function git(cwd: string, args: string[], opts: { reject?: boolean } = {}): Promise<{ stdout: string; exitCode: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('git', [...GIT_FLAGS, ...args], { cwd, env: gitEnv, maxBuffer: 512 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      const exitCode = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      if (exitCode !== 0 && opts.reject !== false) {
        reject(new OrchestratorError('E_INTERNAL', `git ${args[0]} failed in ${cwd}: ${String(stderr || err?.message).trim().slice(0, 500)}`, { args, exitCode }));
        return;
      }
      resolve({ stdout, stderr, exitCode });
    });
  });
}

/** The commit a workspace started from, kept inside its .git (never part of the diff). */
const BASE_FILE = 'orchestrator-base';

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

export async function head(dir: string): Promise<string> {
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
    // made before a crash, not yet recorded in state.json: its base was written beside it
    const [base, source] = (await fsp.readFile(path.join(work, '.git', BASE_FILE), 'utf8')).trim().split(' ');
    return { path: work, base_commit: base ?? '', source: source === 'clone' ? 'clone' : 'fresh' };
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
  await fsp.writeFile(path.join(tmp, '.git', BASE_FILE), `${base} ${source}\n`);
  await fsp.rm(work, { recursive: true, force: true });
  await fsp.rename(tmp, work);
  return { path: work, base_commit: base, source };
}

/** Throw away everything since `commit` (tracked changes and untracked files). */
export async function resetTo(work: string, commit: string): Promise<void> {
  await git(work, ['reset', '--quiet', '--hard', commit]);
  await git(work, ['clean', '-q', '-f', '-d', '-x']);
}

/**
 * Commit whatever the agent left in the tree. Returns the new HEAD and whether anything changed;
 * when nothing did, HEAD is `base` and no further git call is made.
 */
export async function commitAll(work: string, message: string, base: string): Promise<{ head: string; changed: boolean }> {
  await git(work, ['add', '-A']);
  const r = await git(work, ['commit', '--quiet', '--no-verify', '-m', message], { reject: false });
  if (r.exitCode !== 0) {
    if (/nothing (added )?to commit|no changes added|nothing to commit/.test(r.stdout + r.stderr)) return { head: base, changed: false };
    throw new OrchestratorError('E_INTERNAL', `git commit failed in ${work}: ${(r.stderr || r.stdout).trim().slice(0, 500)}`);
  }
  return { head: await head(work), changed: true };
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
