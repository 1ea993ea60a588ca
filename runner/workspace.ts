/**
 * Per-job workspaces: `workspaces/<job_id>/work` is a git repository (a clone of the job's workdir
 * when that is inside a git work tree, otherwise a fresh repository with an empty base commit).
 * Every step attempt starts from its base commit and its changes are committed afterwards, so a
 * step's patch is `git diff base..head` and the job's patch is `git diff job_base..HEAD`; both
 * apply with `git apply` on their base (new and binary files included).
 *
 * Cost: every git call forks the runner (see bench/README.md), so the common paths spawn little:
 * a fresh repository is written from an in-memory copy of a template repository (no spawn), "is the workdir in a work tree"
 * is first answered by looking for a `.git` entry (no spawn unless there is one), and committing a
 * step is one spawn (a small sh script running add, diff and commit).
 *
 * WORKSPACE_MODE=plain (config.workspaceMode) skips git altogether: the step runs in an empty
 * per-job directory, patches are empty and change_status is "unknown" (preparePlainWorkspace()).
 */
import { execFile } from 'node:child_process';
import { promises as fsp, readdirSync, readFileSync, statSync } from 'node:fs';
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

/** Is there a `.git` entry in `dir` or one of its ancestors (the physical path, as git walks it)? */
async function hasGitAncestor(dir: string): Promise<boolean> {
  let cur = await fsp.realpath(dir).catch(() => path.resolve(dir));
  for (;;) {
    if (await pathExists(path.join(cur, '.git'))) return true;
    const up = path.dirname(cur);
    if (up === cur) return false;
    cur = up;
  }
}

/**
 * The git top level containing `dir`, or null when `dir` is not inside a work tree. Git finds a
 * work tree only through a `.git` entry (its environment here carries no GIT_DIR), so without one
 * there is nothing to ask git.
 */
async function gitTopLevel(dir: string): Promise<string | null> {
  if (!(await pathExists(dir)) || !(await hasGitAncestor(dir))) return null;
  const r = await git(dir, ['rev-parse', '--show-toplevel'], { reject: false });
  return r.exitCode === 0 ? r.stdout.trim() : null;
}

export async function head(dir: string): Promise<string> {
  return (await git(dir, ['rev-parse', 'HEAD'])).stdout.trim();
}

/**
 * The fresh repository every non-git job starts from: made once per workspaces root (init + an
 * empty commit, 3 spawns) in a temp directory renamed into place, then read into memory once and
 * written out per job (a dozen small files: well under a millisecond, where fs.cp took ~20 ms).
 * Its name is not a job id, so retention never takes it for a job's workspace.
 */
const TEMPLATE_NAME = '.template+fresh-repo-v1';

interface RepoSnapshot {
  base: string;
  /** Directories grouped by depth, shallowest first. */
  dirLevels: string[][];
  files: Array<{ rel: string; data: Buffer; mode: number }>;
}

const templates = new Map<string, Promise<RepoSnapshot>>();

/**
 * Left out of each copy: git's reflogs (3 directories and 2 files; the next commit starts them)
 * and the base commit's message file. Every inode counts at claim time (lib/fsutil.ts).
 */
const TEMPLATE_SKIP = new Set([path.join('.git', 'logs'), path.join('.git', 'COMMIT_EDITMSG')]);

function snapshotOf(dir: string, base: string): RepoSnapshot {
  const snap: RepoSnapshot = { base, dirLevels: [], files: [] };
  const walk = (rel: string, depth: number): void => {
    for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? path.join(rel, e.name) : e.name;
      if (TEMPLATE_SKIP.has(r)) continue;
      if (e.isDirectory()) {
        (snap.dirLevels[depth] ??= []).push(r);
        walk(r, depth + 1);
      } else if (e.isFile()) {
        snap.files.push({ rel: r, data: readFileSync(path.join(dir, r)), mode: statSync(path.join(dir, r)).mode & 0o777 });
      }
    }
  };
  walk('', 0);
  return snap;
}

async function readTemplate(dir: string): Promise<RepoSnapshot | undefined> {
  const text = await fsp.readFile(path.join(dir, '.git', BASE_FILE), 'utf8').catch(() => '');
  const base = text.trim().split(' ')[0];
  return base ? snapshotOf(dir, base) : undefined;
}

async function makeTemplate(workspacesRoot: string): Promise<RepoSnapshot> {
  const dir = path.join(workspacesRoot, TEMPLATE_NAME);
  const existing = await readTemplate(dir);
  if (existing) return existing;
  await fsp.mkdir(workspacesRoot, { recursive: true });
  const tmp = path.join(workspacesRoot, `${TEMPLATE_NAME}.${randomBytes(4).toString('hex')}.tmp`);
  await fsp.mkdir(tmp);
  try {
    await git(tmp, ['init', '--quiet', '--template=']);
    await git(tmp, ['commit', '--quiet', '--allow-empty', '--no-verify', '-m', 'orchestrator: base (empty workspace)']);
    const base = await head(tmp);
    await fsp.writeFile(path.join(tmp, '.git', BASE_FILE), `${base} fresh\n`);
    // Published by rename only, base file included, and never modified after: a template that
    // exists is complete. Runners starting together race here; the loser's rename fails
    // (ENOTEMPTY/EEXIST) and it uses the winner's. (Removing "an incomplete one" first, as this
    // once did, tore down a template another runner was reading.)
    await fsp.rename(tmp, dir).catch(async (err: unknown) => {
      if (!(await readTemplate(dir))) throw err;
    });
    return (await readTemplate(dir)) ?? snapshotOf(tmp, base);
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

function freshTemplate(workspacesRoot: string): Promise<RepoSnapshot> {
  let t = templates.get(workspacesRoot);
  if (!t) {
    t = makeTemplate(workspacesRoot);
    templates.set(workspacesRoot, t);
    t.catch(() => templates.delete(workspacesRoot));
  }
  return t;
}

/** A fresh repository at `dest` (which must not exist) with the template's empty base commit. */
async function copyFreshRepo(workspacesRoot: string, dest: string): Promise<string> {
  const snap = await freshTemplate(workspacesRoot);
  try {
    // off the event loop and side by side: each creation can block (lib/fsutil.ts); the
    // directories level by level (parents first), then every file at once
    await fsp.mkdir(dest);
    for (const level of snap.dirLevels) await Promise.all(level.map((d) => fsp.mkdir(path.join(dest, d))));
    await Promise.all(snap.files.map((f) => fsp.writeFile(path.join(dest, f.rel), f.data, { mode: f.mode, flag: 'wx' })));
  } catch (err) {
    await fsp.rm(dest, { recursive: true, force: true });
    throw err;
  }
  return snap.base;
}

/**
 * One ready-made job workspace directory per workspaces root (`work/`, a fresh repository with its
 * base file, and the steps' `tmp/` and `home/`), made while nothing waits for it: a claim renames
 * it to workspaces/<job_id> (one rename where copying the template is ~20 inodes, most of the
 * claim-to-spawn time; bench/README.md) and the next one is made shortly after. Named
 * `.spare+<pid>.<tag>` (never a job id: retention and listings ignore it); a dead runner's are
 * removed by cleanupSpares() at the next runner's start, a live runner's by dropSpares() at its stop.
 */
const spares = new Map<string, Promise<string | null>>();
/** The next spare's timer after one was taken (cancelled by dropSpares: nothing is made after a stop). */
const refills = new Map<string, NodeJS.Timeout>();
const SPARE_PREFIX = '.spare+';
/** Delay before the next spare is made: the claim that took one is still racing to its spawn. */
const SPARE_REFILL_DELAY_MS = 25;

async function makeSpare(workspacesRoot: string): Promise<string | null> {
  const dir = path.join(workspacesRoot, `${SPARE_PREFIX}${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    await fsp.mkdir(dir);
    const [base] = await Promise.all([copyFreshRepo(workspacesRoot, path.join(dir, 'work')), fsp.mkdir(path.join(dir, 'tmp')), fsp.mkdir(path.join(dir, 'home'))]);
    await fsp.writeFile(path.join(dir, 'work', '.git', BASE_FILE), `${base} fresh\n`);
    return dir;
  } catch {
    await fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    return null; // the claim makes its own
  }
}

/** Have a spare fresh repository ready under `workspacesRoot` (the runner's start; after each use). */
export function warmSpare(workspacesRoot: string): void {
  if (!spares.has(workspacesRoot)) spares.set(workspacesRoot, makeSpare(workspacesRoot));
}

async function takeSpare(workspacesRoot: string): Promise<string | null> {
  const spare = spares.get(workspacesRoot);
  if (!spare) return null;
  spares.delete(workspacesRoot);
  if (!refills.has(workspacesRoot)) {
    const timer = setTimeout(() => {
      refills.delete(workspacesRoot);
      warmSpare(workspacesRoot);
    }, SPARE_REFILL_DELAY_MS);
    timer.unref();
    refills.set(workspacesRoot, timer);
  }
  return spare;
}

/** Remove this process's spare (the runner's stop). */
export async function dropSpares(workspacesRoot: string): Promise<void> {
  clearTimeout(refills.get(workspacesRoot));
  refills.delete(workspacesRoot);
  const spare = spares.get(workspacesRoot);
  spares.delete(workspacesRoot);
  const dir = await spare;
  if (dir) await fsp.rm(dir, { recursive: true, force: true });
}

/** Remove spares left by processes that are gone (`alive` decides; the runner's start). */
export async function cleanupSpares(workspacesRoot: string, alive: (pid: number) => boolean): Promise<void> {
  const names = await fsp.readdir(workspacesRoot).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(SPARE_PREFIX)) continue;
    const pid = Number(name.slice(SPARE_PREFIX.length).split('.')[0]);
    if (pid !== process.pid && !alive(pid)) await fsp.rm(path.join(workspacesRoot, name), { recursive: true, force: true });
  }
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
  const top = await gitTopLevel(workdir);
  if (!top) {
    const spare = await takeSpare(workspacesRoot);
    if (spare) {
      // complete, base file included: it only has to move (fails when jobDir has content: then a copy)
      const base = (await freshTemplate(workspacesRoot)).base;
      try {
        await fsp.rename(spare, jobDir);
        return { path: work, base_commit: base, source: 'fresh' };
      } catch {
        await fsp.rm(spare, { recursive: true, force: true }).catch(() => undefined);
      }
    }
  }
  await fsp.mkdir(jobDir, { recursive: true });
  const tmp = path.join(jobDir, `.work.${randomBytes(4).toString('hex')}.tmp`);
  let source: 'clone' | 'fresh';
  let base: string;
  if (top) {
    await git(jobDir, ['clone', '--quiet', '--no-hardlinks', top, tmp]);
    source = 'clone';
    base = await head(tmp);
  } else {
    source = 'fresh';
    base = await copyFreshRepo(workspacesRoot, tmp);
  }
  await fsp.writeFile(path.join(tmp, '.git', BASE_FILE), `${base} ${source}\n`);
  await fsp.rm(work, { recursive: true, force: true });
  await fsp.rename(tmp, work);
  return { path: work, base_commit: base, source };
}

/** Marks a job's workspace as plain (WORKSPACE_MODE=plain), beside `work/`, so a restart keeps the mode. */
const PLAIN_MARKER = '.plain-workspace';

/** WORKSPACE_MODE=plain: `workspaces/<job_id>/work` as an empty directory, no git. Idempotent. */
export async function preparePlainWorkspace(workspacesRoot: string, jobId: string): Promise<string> {
  const jobDir = path.join(workspacesRoot, jobId);
  const work = path.join(jobDir, 'work');
  await fsp.mkdir(work, { recursive: true });
  await fsp.writeFile(path.join(jobDir, PLAIN_MARKER), 'WORKSPACE_MODE=plain: no git workspace, no patches\n');
  return work;
}

/** Was this job's workspace made plain (whatever the runner's mode is now)? */
export function isPlainWorkspace(workspacesRoot: string, jobId: string): Promise<boolean> {
  return pathExists(path.join(workspacesRoot, jobId, PLAIN_MARKER));
}

/** Throw away everything since `commit` (tracked changes and untracked files). */
export async function resetTo(work: string, commit: string): Promise<void> {
  await git(work, ['reset', '--quiet', '--hard', commit]);
  await git(work, ['clean', '-q', '-f', '-d', '-x']);
}

/**
 * "Anything to commit?", add, commit, print the new HEAD: one spawn from the runner (sh forks git
 * cheaply). `git status --porcelain` prints nothing exactly when `git add -A` would stage nothing
 * (both honour .gitignore and refresh stat-only changes), so an unchanged tree costs one git
 * process instead of two (add, then diff --cached), and a changed one the same four.
 */
const COMMIT_SCRIPT = [
  'changes=$(git "$@" status --porcelain --untracked-files=normal) || exit $?',
  'if [ -z "$changes" ]; then echo "=unchanged"; exit 0; fi',
  'git "$@" add -A || exit $?',
  'git "$@" commit --quiet --no-verify -m "$ORCH_COMMIT_MESSAGE" || exit $?',
  'git "$@" rev-parse HEAD',
].join('\n');

/**
 * Commit whatever the agent left in the tree. Returns the new HEAD and whether anything changed;
 * when nothing did, HEAD is `base`.
 */
export async function commitAll(work: string, message: string, base: string): Promise<{ head: string; changed: boolean }> {
  const r = await new Promise<{ stdout: string; stderr: string; exitCode: number }>((resolve) => {
    execFile('/bin/sh', ['-c', COMMIT_SCRIPT, 'sh', ...GIT_FLAGS], { cwd: work, env: { ...gitEnv, ORCH_COMMIT_MESSAGE: message }, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ stdout, stderr, exitCode: err ? (typeof err.code === 'number' ? err.code : -1) : 0 });
    });
  });
  const out = r.stdout.trim();
  if (r.exitCode !== 0) throw new OrchestratorError('E_INTERNAL', `git commit failed in ${work}: ${(r.stderr || r.stdout).trim().slice(0, 500)}`);
  if (out === '=unchanged') return { head: base, changed: false };
  const head = out.split('\n').pop()?.trim() ?? '';
  if (!/^[0-9a-f]{40,64}$/.test(head)) throw new OrchestratorError('E_INTERNAL', `git commit in ${work} printed no commit id: ${out.slice(0, 200)}`);
  return { head, changed: true };
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
