/**
 * Keeps a runner's PendingIndex in step with pending/: a full rescan on start and every
 * `scanIntervalMs` (the safety net), plus file-system events for millisecond wake-ups. Events are
 * only hints (they can be missed, duplicated or coalesced): an event naming a file re-checks that
 * one file, anything else schedules a rescan. Each file is read once, when first seen; unusable
 * files are quarantined.
 *
 * Scale: the watch is ONE fs.watch (inotify) on the directory, whatever its size (chokidar put a
 * watch on every file: +74 MB of RSS at 10,000 pending jobs, and inotify's watch limit at 100,000);
 * a rescan only lists the directory and skips the names it knows, without awaiting per name; new
 * files are read in parallel batches.
 */
import { watch, type FSWatcher } from 'node:fs';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { FsQueue } from '../fsqueue/queue.ts';
import { PendingIndex } from '../fsqueue/pending-index.ts';
import { errnoCode } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';

/** New files read at once during a scan. */
const READ_BATCH = 64;

export class PendingScanner {
  readonly index = new PendingIndex();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private rescanAgain = false;
  /** Files known to be bad or already seen and dropped (claimed elsewhere). */
  private readonly ignored = new Set<string>();
  /** mtime of pending/ when it was last listed in full (only when that mtime was over a second old). */
  private listedMtimeMs: number | undefined;

  constructor(
    private readonly queue: FsQueue,
    private readonly log: Logger,
    private readonly onChange: () => void,
    private readonly onQuarantine: (file: string, reason: string) => void,
  ) {}

  async start(scanIntervalMs: number, watchDir = true): Promise<void> {
    if (watchDir) {
      // watching before the first scan: a file published meanwhile is seen by one or the other
      try {
        this.watcher = watch(this.queue.dir('pending'), { persistent: true }, (_event, name) => this.onEvent(name));
        this.watcher.on('error', (err: unknown) => {
          this.log.warn({ err }, 'pending watcher error; relying on periodic scans');
          this.requestScan();
        });
      } catch (err) {
        this.log.warn({ err }, 'cannot watch pending/; relying on periodic scans');
      }
    }
    await this.scan();
    this.timer = setInterval(() => this.requestScan(), scanIntervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.watcher?.close();
    await this.scanning;
  }

  /** A file in pending/ was created, removed or changed (or, without a name, anything). */
  private onEvent(name: string | Buffer | null): void {
    if (name === null || typeof name !== 'string') {
      this.requestScan();
      return;
    }
    if (name.startsWith('.')) return;
    void this.recheck(name).then(() => this.onChange());
  }

  /** One named file: index it when new, forget it when gone. */
  private async recheck(name: string): Promise<void> {
    const id = name.endsWith('.json') ? name.slice(0, -5) : null;
    if (id && this.index.has(id)) {
      try {
        await fsp.lstat(path.join(this.queue.dir('pending'), name));
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') this.index.delete(id); // claimed or moved elsewhere
      }
      return;
    }
    await this.addFile(name);
  }

  requestScan(): void {
    if (this.scanning) {
      this.rescanAgain = true;
      return;
    }
    this.scanning = this.scan().finally(() => {
      this.scanning = undefined;
      if (this.rescanAgain) {
        this.rescanAgain = false;
        this.requestScan();
      }
    });
  }

  /**
   * List pending/ and index every job file not yet known. A directory whose mtime has not moved
   * since it was last listed has had no file added or removed: the listing is skipped (it costs
   * ~100 ms at 100,000 pending jobs). File-system timestamps are coarse, so an mtime is trusted only
   * when it was over a second old when the directory was listed.
   */
  async scan(): Promise<void> {
    const dir = this.queue.dir('pending');
    const mtimeMs = (await fsp.stat(dir).catch(() => undefined))?.mtimeMs;
    if (mtimeMs !== undefined && mtimeMs === this.listedMtimeMs) {
      this.onChange();
      return;
    }
    let names: string[];
    try {
      names = await this.queue.listNames('pending');
    } catch (err) {
      this.log.error({ err }, 'cannot list pending/');
      return;
    }
    const fresh: string[] = [];
    for (const name of names) {
      if (this.ignored.has(name)) continue;
      if (name.endsWith('.json') && this.index.has(name.slice(0, -5))) continue;
      fresh.push(name);
    }
    for (let i = 0; i < fresh.length; i += READ_BATCH) {
      await Promise.all(fresh.slice(i, i + READ_BATCH).map((name) => this.addFile(name)));
    }
    if (this.ignored.size > 0) {
      const present = new Set(names);
      for (const name of this.ignored) if (!present.has(name)) this.ignored.delete(name);
    }
    this.listedMtimeMs = mtimeMs !== undefined && Date.now() - mtimeMs > 1000 ? mtimeMs : undefined;
    this.onChange();
  }

  private async addFile(name: string): Promise<void> {
    if (name.startsWith('.') || this.ignored.has(name)) return;
    const id = name.endsWith('.json') ? name.slice(0, -5) : null;
    if (id && this.index.has(id)) return;
    if (!id) {
      await this.quarantine(name, 'not a .json job file');
      return;
    }
    const read = await this.queue.readFile(path.join(this.queue.dir('pending'), name));
    if (read.ok) {
      this.index.add({ id, priority: read.job.priority, submittedAt: Date.parse(read.job.submitted_at) || 0 });
    } else if (read.reason !== 'ENOENT') {
      await this.quarantine(name, read.reason);
    }
  }

  private async quarantine(name: string, reason: string): Promise<void> {
    const dest = await this.queue.quarantine('pending', name, reason).catch((err: unknown) => {
      this.log.error({ err, file: name }, 'cannot quarantine a bad pending file; ignoring it');
      this.ignored.add(name);
      return undefined;
    });
    if (dest) {
      this.log.warn({ file: name, moved_to: dest, reason }, 'bad file in pending/ moved aside');
      this.onQuarantine(name, reason);
    }
  }
}
