/**
 * Durable, atomic file primitives. Invariant: a reader never sees a partial file. Writers put the
 * bytes in a temp file in the SAME directory (same filesystem, so rename is atomic), fsync it,
 * then rename (replace) or link (publish without overwriting), then fsync the directory.
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import path from 'node:path';
import { errnoCode } from './errors.ts';

async function syncDirNow(dir: string): Promise<void> {
  const fh = await fsp.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Per directory: the fsync running now (as a promise that never rejects: its callers hold the real
 * one) and the one queued behind it, shared by every caller that arrives meanwhile.
 */
const dirSyncs = new Map<string, { running: Promise<void>; next: Promise<void> | undefined }>();

/**
 * fsync a directory, so that entries created in it survive a crash. Group commit: concurrent
 * callers share fsyncs. A caller's entry exists before it calls, so any fsync that STARTS after
 * the call covers it: a caller joins the queued fsync (it starts once the running one is done),
 * never the running one (which may have started before its entry was made).
 */
export function fsyncDir(dir: string): Promise<void> {
  const st = dirSyncs.get(dir);
  if (st) {
    st.next ??= st.running.then(() => syncDirNow(dir));
    return st.next;
  }
  const p = syncDirNow(dir);
  const settled = (): void => advance(dir);
  dirSyncs.set(dir, { running: p.then(settled, settled), next: undefined });
  return p;
}

/** The running fsync settled: promote the queued one, or forget the directory. */
function advance(dir: string): void {
  const st = dirSyncs.get(dir);
  if (!st) return;
  if (!st.next) {
    dirSyncs.delete(dir);
    return;
  }
  const settled = (): void => advance(dir);
  dirSyncs.set(dir, { running: st.next.then(settled, settled), next: undefined });
}

export function tmpName(target: string, tmpDir?: string): string {
  const base = `.${path.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  return path.join(tmpDir ?? path.dirname(target), base);
}

async function writeTemp(tmp: string, data: string | Uint8Array, sync: boolean): Promise<void> {
  const fh = await fsp.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  try {
    await fh.writeFile(data);
    if (sync) await fh.sync();
  } finally {
    await fh.close();
  }
}

export interface AtomicWriteOptions {
  /** fsync file and directory (durability across power loss). Default true. */
  durable?: boolean;
  /** Directory for the temp file; must be on the same filesystem as the target. */
  tmpDir?: string;
}

/** Atomically replace `target` with `data`. */
export async function writeFileAtomic(target: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const durable = opts.durable ?? true;
  const tmp = tmpName(target, opts.tmpDir);
  try {
    await writeTemp(tmp, data, durable);
    await fsp.rename(tmp, target);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  if (durable) await fsyncDir(path.dirname(target));
}

export async function writeJsonAtomic(target: string, value: unknown, opts: AtomicWriteOptions = {}): Promise<void> {
  await writeFileAtomic(target, JSON.stringify(value, null, 2) + '\n', opts);
}

/**
 * Atomically publish `data` at `target` only if nothing is there yet ("created"), else "exists".
 * link(2) fails with EEXIST instead of replacing, unlike rename(2).
 */
export async function publishFileExclusive(
  target: string,
  data: string | Uint8Array,
  opts: AtomicWriteOptions = {},
): Promise<'created' | 'exists'> {
  const durable = opts.durable ?? true;
  const tmp = tmpName(target, opts.tmpDir);
  await writeTemp(tmp, data, durable).catch(async (err: unknown) => {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  });
  try {
    await fsp.link(tmp, target);
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return 'exists';
    throw err;
  } finally {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
  }
  if (durable) await fsyncDir(path.dirname(target));
  return 'created';
}

/** Read a regular file without following a planted symlink. */
export async function readFileNoFollow(file: string): Promise<string> {
  const fh = await fsp.open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

export async function pathExists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

export async function readJsonIfExists<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFileNoFollow(file)) as T;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** Is `child` inside `parent` (after resolution)? Used for every path that comes from input. */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(path.resolve(parent), path.resolve(child));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
