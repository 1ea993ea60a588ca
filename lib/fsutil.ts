/**
 * Durable, atomic file primitives. Invariant: a reader never sees a partial file. Writers put the
 * bytes in a temp file in the SAME directory (same filesystem, so rename is atomic), fsync it,
 * then rename (replace) or link (publish without overwriting), then fsync the directory.
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import path from 'node:path';
import { errnoCode } from './errors.ts';

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
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
