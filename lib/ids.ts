/** Job ids we generate: 32 lowercase hex characters (the MVP's format), 128 random bits. */
import { randomBytes } from 'node:crypto';

/**
 * Random bytes drawn 4 KiB at a time (256 ids): a randomBytes(16) per id cost ~13 µs of the
 * gateway's main thread under ingest (getrandom per call); crypto.randomUUID caches the same way.
 */
let pool = Buffer.alloc(0);
let at = 0;

export function newJobId(): string {
  if (at + 16 > pool.length) {
    pool = randomBytes(4096);
    at = 0;
  }
  const id = pool.toString('hex', at, at + 16);
  at += 16;
  return id;
}
