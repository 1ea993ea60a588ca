/**
 * When does a rate/usage limit lift? The CLIs say it in prose, in several shapes:
 *   "resets at 2026-11-21T15:00:00Z"        (an ISO time, preferred)
 *   "Claude AI usage limit reached|1763737200" (epoch seconds after a bar)
 *   "try again in 30 seconds", "Please retry in 59.3s", "try again in 2 hours 5 minutes"
 *   "retry-after: 30"
 * Pure: relative phrases are resolved against the `now` passed in.
 */

const ISO_RE = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})/i;
const EPOCH_RE = /(?:\||\breset(?:s|_at)?["':\s]+(?:at\s+)?)(\d{10})(?!\d)/i;
const UNIT = '(?:ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)';
const AMOUNT = `\\d+(?:\\.\\d+)?\\s*${UNIT}\\b`;
const RELATIVE_RE = new RegExp(
  `(?:try again|retry|resets?|available again|wait)\\s+(?:in|after)\\s+((?:${AMOUNT}[\\s,]*(?:and\\s+)?)+)`,
  'i',
);
const AMOUNT_RE = new RegExp(`(\\d+(?:\\.\\d+)?)\\s*(${UNIT})\\b`, 'gi');
const RETRY_AFTER_RE = /retry[-_ ]after["':\s]+(\d+(?:\.\d+)?)(?!\s*[a-z])/i;

/** ISO time the limit resets, or undefined when the text does not say. */
export function extractResetAt(text: string, now: number): string | undefined {
  const iso = ISO_RE.exec(text);
  if (iso) {
    const t = Date.parse(iso[0]);
    if (Number.isFinite(t)) return new Date(t).toISOString();
  }
  const epoch = EPOCH_RE.exec(text);
  if (epoch?.[1]) return new Date(Number(epoch[1]) * 1000).toISOString();
  const rel = RELATIVE_RE.exec(text);
  if (rel?.[1]) return new Date(now + durationMs(rel[1])).toISOString();
  const after = RETRY_AFTER_RE.exec(text);
  if (after?.[1]) return new Date(now + Number(after[1]) * 1000).toISOString();
  return undefined;
}

function durationMs(phrase: string): number {
  let total = 0;
  for (const m of phrase.matchAll(AMOUNT_RE)) total += Number(m[1]) * unitMs(m[2] ?? 's');
  return Math.round(total);
}

function unitMs(unit: string): number {
  const u = unit.toLowerCase();
  if (u === 'ms' || u.startsWith('milli')) return 1;
  if (u.startsWith('s')) return 1_000;
  if (u.startsWith('m')) return 60_000;
  if (u.startsWith('h')) return 3_600_000;
  return 86_400_000;
}
