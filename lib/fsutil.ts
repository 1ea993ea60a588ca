/**
 * Durable, atomic file primitives. Invariant: a reader never sees a partial file. Writers put the
 * bytes in a temp file in the SAME directory (same filesystem, so rename is atomic), fsync it,
 * then rename (replace) or link (publish without overwriting), then fsync the directory.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, fsync, lstatSync, open, openSync, promises as fsp, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from './errors.ts';

/**
 * Per directory: the fsync batch still taking callers (its directory is being opened; its sync(2)
 * is not issued yet).
 */
const openBatches = new Map<string, { done: Promise<void> }>();

/**
 * fsync a directory, so that entries created in it survive a crash. Group commit without a queue:
 * callers that arrive while a batch's directory handle is being opened share that batch's fsync;
 * once its sync(2) is about to be issued the batch closes and the next caller starts a new one,
 * which runs alongside (never waits for) the previous. A caller's entry exists before it calls,
 * and every batch it can join issues its sync(2) after that, so the fsync covers the entry.
 * (Serialising batches, one running and one queued, measured 35% slower on ext4, whose journal
 * already merges concurrent fsyncs: bench/README.md.)
 */
export function fsyncDir(dir: string): Promise<void> {
  const joinable = openBatches.get(dir);
  if (joinable) return joinable.done;
  const batch: { done: Promise<void> } = { done: Promise.resolve() };
  batch.done = (async () => {
    let fh: FileHandle;
    try {
      fh = await fsp.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    } finally {
      // closed to newcomers before its sync(2) is issued
      if (openBatches.get(dir) === batch) openBatches.delete(dir);
    }
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  })();
  openBatches.set(dir, batch);
  return batch.done;
}

/** Temp names: pid + a random tag drawn once per process + a counter (unique without a randomBytes call each). */
const TMP_TAG = randomBytes(4).toString('hex');
let tmpCounter = 0;

export function tmpName(target: string, tmpDir?: string): string {
  const base = `.${path.basename(target)}.${process.pid}.${TMP_TAG}${(tmpCounter++).toString(36)}.tmp`;
  return path.join(tmpDir ?? path.dirname(target), base);
}

/**
 * Files up to this size are written and read with synchronous calls once open: a few tens of
 * microseconds on the event loop instead of 3-4 thread-pool round trips each (a job's artifacts
 * are ~50 such small files; bench/README.md, step overhead). Larger ones, every fsync and every
 * file CREATION stay off the event loop: creating an inode can block for a millisecond or more
 * (ext4 scanning its inode bitmap past recently deleted inodes, or waiting for a journal commit),
 * which measured as half of the gateway's time under load when done synchronously (bench/README.md).
 */
export const SMALL_FILE_BYTES = 256 * 1024;

const byteLength = (data: string | Uint8Array): number => (typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength);

/** fsync(2) of an open descriptor on the thread pool. */
export function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
}

/** open(2) on the thread pool (one round trip; the callback API, lighter than a FileHandle). */
export function openAsync(file: string, flags: number, mode = 0o644): Promise<number> {
  return new Promise((resolve, reject) => open(file, flags, mode, (err, fd) => (err ? reject(err) : resolve(fd))));
}

async function writeTemp(tmp: string, data: string | Uint8Array, sync: boolean): Promise<void> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  if (byteLength(data) <= SMALL_FILE_BYTES) {
    // the creation and the fsync go to the thread pool; the write (to the page cache) is done here
    const fd = await openAsync(tmp, flags);
    try {
      writeFileSync(fd, data);
      if (sync) await fsyncFd(fd);
    } finally {
      closeSync(fd);
    }
    return;
  }
  const fh = await fsp.open(tmp, flags, 0o644);
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

export interface PublishOptions extends AtomicWriteOptions {
  /**
   * Awaited after the temp file is written (and fsynced) and before it is published: lets a caller
   * overlap another fsync (e.g. of a reservation) with the file's, yet publish only after both.
   */
  beforePublish?: Promise<unknown>;
}

/** Atomically replace `target` with `data`. */
export async function writeFileAtomic(target: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const durable = opts.durable ?? true;
  const tmp = tmpName(target, opts.tmpDir);
  try {
    await writeTemp(tmp, data, durable);
    if (durable || byteLength(data) > SMALL_FILE_BYTES) await fsp.rename(tmp, target);
    else renameSync(tmp, target);
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
  opts: PublishOptions = {},
): Promise<'created' | 'exists'> {
  const durable = opts.durable ?? true;
  const tmp = tmpName(target, opts.tmpDir);
  try {
    await writeTemp(tmp, data, durable);
    await opts.beforePublish;
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  try {
    await fsp.link(tmp, target);
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return 'exists';
    throw err;
  } finally {
    await fsp.unlink(tmp).catch(() => undefined);
  }
  if (durable) await fsyncDir(path.dirname(target));
  return 'created';
}

/**
 * Read a regular file without following a planted symlink. A small file is read synchronously
 * (SMALL_FILE_BYTES); O_NONBLOCK keeps a planted FIFO from blocking the open, and anything but a
 * regular file is refused (EINVAL).
 */
export async function readFileNoFollow(file: string): Promise<string> {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw Object.assign(new Error(`EINVAL: not a regular file, open '${file}'`), { code: 'EINVAL', path: file });
    if (st.size <= SMALL_FILE_BYTES) return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  const fh = await fsp.open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

/**
 * Does `p` exist (a symlink is not followed)? An lstat(2) reads metadata and never blocks on the
 * disk's allocator, so it runs on the event loop: a thread-pool round trip costs more than the call
 * (SMALL_FILE_BYTES above). Async for the callers' sake.
 */
export async function pathExists(p: string): Promise<boolean> {
  return lstatOrUndefined(p) !== undefined;
}

/** lstat(2) on the event loop (see pathExists); undefined when nothing is there (ENOENT; other errors throw). */
export function lstatOrUndefined(p: string): Stats | undefined {
  return lstatSync(p, { throwIfNoEntry: false });
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
