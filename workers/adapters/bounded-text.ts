/**
 * Bounded text for streaming parsers: a run may print gigabytes, a parser keeps kilobytes.
 * Summaries keep their head (the NEEDS_HUMAN marker and the gist are at the start); stderr keeps
 * its tail (the fatal message comes last).
 */

export const SUMMARY_CAP = 20_000;
export const ERROR_MESSAGE_CAP = 2_000;
export const STDERR_TAIL_CAP = 16_000;

const ELLIPSIS = '\n…[truncated]';

/** The first `cap` characters of `text`, marked when cut. */
export function capHead(text: string, cap: number = SUMMARY_CAP): string {
  return text.length <= cap ? text : text.slice(0, cap) + ELLIPSIS;
}

/** Appends pieces (streamed message deltas) up to a cap; stops growing once full. */
export class HeadText {
  private value = '';
  private cut = false;
  constructor(private readonly cap: number = SUMMARY_CAP) {}
  append(piece: string): void {
    if (this.cut) return;
    const room = this.cap - this.value.length;
    if (piece.length <= room) this.value += piece;
    else {
      this.value += piece.slice(0, room);
      this.cut = true;
    }
  }
  reset(): void {
    this.value = '';
    this.cut = false;
  }
  get text(): string {
    return this.cut ? this.value + ELLIPSIS : this.value;
  }
}

/** Keeps the last `cap` characters of the lines pushed into it. */
export class TailText {
  private value = '';
  constructor(private readonly cap: number = STDERR_TAIL_CAP) {}
  push(line: string): void {
    this.value += line + '\n';
    if (this.value.length > this.cap * 2) this.value = this.value.slice(-this.cap);
  }
  get text(): string {
    return this.value.length > this.cap ? this.value.slice(-this.cap) : this.value;
  }
}
