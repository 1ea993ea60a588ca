/**
 * In-memory order of the pending jobs a runner knows about: priority (higher first), then FIFO by
 * submission time, then id. A binary heap, so a claim costs O(log n) whatever the queue depth;
 * the directory is only listed by the periodic rescan, never per claim.
 * The index is a cache: the file system decides (a claim is a rename; losing it is normal).
 */
export interface PendingEntry {
  id: string;
  priority: number;
  /** ms since epoch of submission; FIFO key. */
  submittedAt: number;
}

function before(a: PendingEntry, b: PendingEntry): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  if (a.submittedAt !== b.submittedAt) return a.submittedAt < b.submittedAt;
  return a.id < b.id;
}

export class PendingIndex {
  private heap: PendingEntry[] = [];
  private ids = new Set<string>();

  get size(): number {
    return this.ids.size;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  add(entry: PendingEntry): void {
    if (this.ids.has(entry.id)) return;
    this.ids.add(entry.id);
    this.heap.push(entry);
    this.up(this.heap.length - 1);
  }

  /** Forget an id (e.g. another runner claimed it). Lazy: dropped when it reaches the top. */
  delete(id: string): void {
    this.ids.delete(id);
  }

  /** Remove and return the best entry, or undefined. */
  pop(): PendingEntry | undefined {
    while (this.heap.length > 0) {
      const top = this.heap[0]!;
      const last = this.heap.pop()!;
      if (this.heap.length > 0) {
        this.heap[0] = last;
        this.down(0);
      }
      if (this.ids.has(top.id)) {
        this.ids.delete(top.id);
        return top;
      }
    }
    return undefined;
  }

  /** Entries in claim order, without removing them (tests, `list`). */
  peekAll(): PendingEntry[] {
    return [...this.heap].filter((e) => this.ids.has(e.id)).sort((a, b) => (before(a, b) ? -1 : 1));
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
