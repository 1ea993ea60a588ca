// @ts-check
/** Numbers and times as people read them. Pure (tested under Node). */

/** @param {number | null | undefined} ms */
export function fmtDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.floor(s - m * 60)} s`;
  const hrs = Math.floor(m / 60);
  return `${hrs} h ${m - hrs * 60} min`;
}

/**
 * "12 s ago", "5 min ago", "3 h ago", "2 d ago".
 * @param {string | number | null | undefined} at ISO time or ms since the epoch
 * @param {number} now
 */
export function fmtAge(at, now) {
  if (at === null || at === undefined) return '—';
  const t = typeof at === 'number' ? at : Date.parse(at);
  if (!Number.isFinite(t)) return '—';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** @param {number | null | undefined} usd */
export function fmtUsd(usd) {
  if (usd === null || usd === undefined || !Number.isFinite(usd)) return '—';
  if (usd === 0) return '$0';
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

/** @param {number | null | undefined} n */
export function fmtCount(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

/** A local time for a title attribute. @param {string | null | undefined} iso */
export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** The people-facing word for why a job waits. @param {string | null | undefined} reason */
export function waitLabel(reason) {
  switch (reason) {
    case 'approval':
      return 'approval before start';
    case 'gate':
      return 'approval gate';
    case 'ask_human':
      return 'asks a human (step failed)';
    case 'needs_human':
      return 'agent asks a question';
    case 'budget_exceeded':
      return 'budget exhausted';
    case 'rate_limited':
      return 'rate limited';
    default:
      return reason ?? 'waiting';
  }
}
