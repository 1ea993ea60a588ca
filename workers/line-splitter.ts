/**
 * Splits a byte stream into lines with bounded memory: a line longer than `maxLine` characters is
 * cut (its head kept, flagged) instead of being accumulated, so a 200 MB line without a newline
 * costs at most `maxLine` characters.
 */
import { StringDecoder } from 'node:string_decoder';

export class LineSplitter {
  private buf = '';
  private overflowing = false;
  private readonly decoder = new StringDecoder('utf8');

  constructor(
    private readonly onLine: (line: string, truncated: boolean) => void,
    private readonly maxLine = 1_000_000,
  ) {}

  push(chunk: Buffer | string): void {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) break;
      this.take(text.slice(start, nl), true);
      start = nl + 1;
    }
    if (start < text.length) this.take(text.slice(start), false);
  }

  private take(part: string, complete: boolean): void {
    if (!this.overflowing) {
      this.buf += part;
      if (this.buf.length > this.maxLine) {
        this.onLine(this.buf.slice(0, this.maxLine), true);
        this.buf = '';
        this.overflowing = true;
      }
    }
    if (complete) {
      if (!this.overflowing) this.onLine(this.buf.endsWith('\r') ? this.buf.slice(0, -1) : this.buf, false);
      this.buf = '';
      this.overflowing = false;
    }
  }

  end(): void {
    const rest = this.buf + this.decoder.end();
    if (rest.length > 0 && !this.overflowing) this.onLine(rest, false);
    this.buf = '';
  }
}
