/**
 * fsyncDir group commit (lib/fsutil.ts): concurrent callers share directory fsyncs, but a caller
 * never rides on an fsync that started before it called.
 */
import { constants, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fsyncDir } from '../../lib/fsutil.ts';

afterEach(() => vi.restoreAllMocks());

function countDirOpens(): { count: () => number } {
  const real = fsp.open.bind(fsp);
  let n = 0;
  vi.spyOn(fsp, 'open').mockImplementation(((file: string, flags?: number, mode?: number) => {
    if (typeof flags === 'number' && (flags & constants.O_DIRECTORY) !== 0) n++;
    return real(file, flags, mode);
  }) as typeof fsp.open);
  return { count: () => n };
}

describe('fsyncDir: group commit', () => {
  it('100 concurrent calls share two fsyncs: the one running and one queued behind it', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'fsync-group-'));
    const opens = countDirOpens();
    await Promise.all(Array.from({ length: 100 }, () => fsyncDir(dir)));
    expect(opens.count()).toBe(2);
    await fsyncDir(dir); // idle again: a fresh fsync
    expect(opens.count()).toBe(3);
    await fsp.rm(dir, { recursive: true });
  });

  it('a call made while an fsync runs waits for a later one', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'fsync-group-'));
    const opens = countDirOpens();
    const first = fsyncDir(dir);
    const second = fsyncDir(dir);
    expect(second).not.toBe(first);
    await Promise.all([first, second]);
    expect(opens.count()).toBe(2);
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
