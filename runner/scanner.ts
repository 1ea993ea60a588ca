/**
 * Keeps a runner's PendingIndex in step with pending/: a full rescan on start and every
 * `scanIntervalMs` (the safety net), plus chokidar events for millisecond wake-ups. Events are
 * only hints (they can be missed, duplicated or coalesced): an `add` reads that one file, anything
 * else schedules a rescan. Each file is read once, when first seen; unusable files are quarantined.
 */
import chokidar, { type FSWatcher } from 'chokidar';
import path from 'node:path';
import type { FsQueue } from '../fsqueue/queue.ts';
import { PendingIndex } from '../fsqueue/pending-index.ts';
import type { Logger } from '../lib/logger.ts';

export class PendingScanner {
  readonly index = new PendingIndex();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private rescanAgain = false;
  /** Files known to be bad or already seen and dropped (claimed elsewhere). */
  private readonly ignored = new Set<string>();

  constructor(
    private readonly queue: FsQueue,
    private readonly log: Logger,
    private readonly onChange: () => void,
    private readonly onQuarantine: (file: string, reason: string) => void,
  ) {}

  async start(scanIntervalMs: number, watch = true): Promise<void> {
    await this.scan();
    if (watch) {
      this.watcher = chokidar.watch(this.queue.dir('pending'), { depth: 0, ignoreInitial: true, persistent: true, ignored: (p: string) => path.basename(p).startsWith('.') && p !== this.queue.dir('pending') });
      this.watcher.on('add', (p: string) => void this.addFile(path.basename(p)).then(() => this.onChange()));
      this.watcher.on('unlink', (p: string) => this.index.delete(path.basename(p).replace(/\.json$/, '')));
      this.watcher.on('change', () => this.requestScan());
      this.watcher.on('error', (err: unknown) => {
        this.log.warn({ err }, 'pending watcher error; relying on periodic scans');
        this.requestScan();
      });
    }
    this.timer = setInterval(() => this.requestScan(), scanIntervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.watcher?.close();
    await this.scanning;
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

  /** List pending/ and index every job file not yet known. */
  async scan(): Promise<void> {
    let names: string[];
    try {
      names = await this.queue.listNames('pending');
    } catch (err) {
      this.log.error({ err }, 'cannot list pending/');
      return;
    }
    const present = new Set<string>();
    for (const name of names) {
      present.add(name);
      await this.addFile(name);
    }
    for (const name of this.ignored) if (!present.has(name)) this.ignored.delete(name);
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
