/**
 * fsyncDir group commit (lib/fsutil.ts): callers that arrive before a batch issues its sync(2)
 * share it; a caller never rides on a sync(2) issued before it called (it gets a new batch, which
 * runs alongside the previous one instead of queueing behind it).
 */
import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fsyncDir } from '../../lib/fsutil.ts';

afterEach(() => vi.restoreAllMocks());

/** Counts directory opens; `syncs` records each directory handle's sync(2) as it is issued. */
function spyDirOpens(): { count: () => number; syncs: number[] } {
  const real = fsp.open.bind(fsp);
  let n = 0;
  const syncs: number[] = [];
  vi.spyOn(fsp, 'open').mockImplementation((async (file: string, flags?: number, mode?: number) => {
    const fh: FileHandle = await real(file, flags, mode);
    if (typeof flags === 'number' && (flags & constants.O_DIRECTORY) !== 0) {
      const id = ++n;
      const sync = fh.sync.bind(fh);
      fh.sync = () => {
        syncs.push(id);
        return sync();
      };
    }
    return fh;
  }) as typeof fsp.open);
  return { count: () => n, syncs };
}

describe('fsyncDir: group commit', () => {
  it('calls made before the sync(2) is issued share one fsync; a later call gets a fresh one', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'fsync-group-'));
    const opens = spyDirOpens();
    const all = Array.from({ length: 100 }, () => fsyncDir(dir));
    expect(new Set(all).size).toBe(1);
    await Promise.all(all);
    expect(opens.count()).toBe(1);
    await fsyncDir(dir); // idle again: a fresh fsync
    expect(opens.count()).toBe(2);
    await fsp.rm(dir, { recursive: true });
  });

  it('a call made once a sync(2) was issued never joins it: it gets its own, without waiting for the first', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'fsync-group-'));
    const opens = spyDirOpens();
    const first = fsyncDir(dir);
    while (opens.syncs.length === 0) await new Promise((r) => setImmediate(r));
    const second = fsyncDir(dir);
    expect(second).not.toBe(first);
    await Promise.all([first, second]);
    expect(opens.count()).toBe(2);
    expect(opens.syncs).toEqual([1, 2]);
    await fsp.rm(dir, { recursive: true });
  });

  it('a failure reaches the callers of that fsync only', async () => {
    const missing = path.join(os.tmpdir(), `fsync-missing-${process.pid}-${Date.now()}`);
    await expect(Promise.all([fsyncDir(missing), fsyncDir(missing)])).rejects.toMatchObject({ code: 'ENOENT' });
    await fsp.mkdir(missing);
    await expect(fsyncDir(missing)).resolves.toBeUndefined();
    await fsp.rm(missing, { recursive: true });
  });
});
