/**
 * Tolerant, typed access to one line of a CLI's JSON stream. The CLIs add fields and reorder keys
 * between versions and sometimes print plain-text warnings on stdout, so parsers read by key and
 * treat any line that is not a JSON object as noise (never as an error).
 */

export type JsonObject = Record<string, unknown>;

/** The line as a JSON object, or null for blank lines, plain text, arrays and broken JSON. */
export function parseJsonObject(line: string): JsonObject | null {
  const text = line.trim();
  if (!text.startsWith('{') || !text.endsWith('}')) return null;
  try {
    return obj(JSON.parse(text));
  } catch {
    return null;
  }
}

export function obj(value: unknown): JsonObject | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : null;
}

export function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** A finite number, or a numeric string (some CLIs quote status codes). */
export function num(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  return null;
}

export function arr(value: unknown): unknown[] | null {
  return Array.isArray(value) ? value : null;
}

/** Follow a key path through nested objects: `at(ev, 'part', 'tokens', 'input')`. */
export function at(value: unknown, ...keys: string[]): unknown {
  let cur: unknown = value;
  for (const key of keys) {
    const o = obj(cur);
    if (o === null) return undefined;
    cur = o[key];
  }
  return cur;
}

/** A non-negative token count from the first key that holds one; 0 otherwise. */
export function count(source: unknown, ...keys: string[]): number {
  for (const key of keys) {
    const n = num(at(source, key));
    if (n !== null && n >= 0) return n;
  }
  return 0;
}
