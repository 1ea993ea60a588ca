// @ts-check
/**
 * The runner's health (GET /ui/health: /health's report behind the session, since a proxy may keep
 * /health for monitoring) and today's budget (GET /budget): a compact indicator in the header and
 * two cards on the queue page. Polled every few seconds while the page is open.
 */
import { ApiError, getJson } from '../api.js';
import { h, replace } from '../dom.js';
import { fmtAge, fmtUsd } from '../format.js';

/**
 * @typedef {{runner_id: string, host: string, pid: number, heartbeat_at: string, fresh: boolean, running: unknown[] | number}} RunnerInfo
 * @typedef {{ok: boolean, queue: Record<string, number> | null, runner_alive: boolean, runners: RunnerInfo[], queue_error?: string}} Health
 * @typedef {{name: string, calls: number, cost_usd: number, limit_calls: number | null, limit_usd: number | null, limit_source: string | null}} BudgetLine
 * @typedef {{day: string, tz: string, resets_at: string, global: BudgetLine | null, agents: BudgetLine[], projects: BudgetLine[], scoped: boolean, unsettled_calls: number | null}} Budget
 */

/** @returns {Promise<Health | null>} */
export async function fetchHealth() {
  try {
    return /** @type {Health} */ (await getJson('/ui/health'));
  } catch {
    return null;
  }
}

/** @returns {Promise<Budget | null>} */
export async function fetchBudget() {
  try {
    return /** @type {Budget} */ (await getJson('/budget'));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) throw err;
    return null;
  }
}

/** The dot and word in the header. @param {Health | null} health */
export function healthBadge(health) {
  const ok = health?.runner_alive === true;
  const label = health === null ? 'gateway unreachable' : ok ? `runner alive (${health.runners.filter((r) => r.fresh).length})` : 'no live runner';
  return h('span', { class: `health ${ok ? 'ok' : 'bad'}`, 'data-testid': 'health', title: label }, h('span', { class: 'dot' }), label);
}

/**
 * A bar of used / limit (no bar when there is no limit).
 * @param {number} used
 * @param {number | null} limit
 * @param {(n: number) => string} fmt
 */
function meter(used, limit, fmt) {
  if (limit === null || limit <= 0) return h('div', { class: 'meter-row' }, h('span', { class: 'meter-text' }, `${fmt(used)} (no limit)`));
  const pct = Math.min(100, (used / limit) * 100);
  const fill = h('div', { class: `meter-fill ${pct >= 100 ? 'full' : pct >= 80 ? 'high' : ''}` });
  fill.style.width = `${pct.toFixed(1)}%`;
  return h('div', { class: 'meter-row' }, h('div', { class: 'meter' }, fill), h('span', { class: 'meter-text' }, `${fmt(used)} / ${fmt(limit)}`));
}

/** @param {BudgetLine} l */
function budgetLine(l) {
  return h(
    'div',
    { class: 'budget-line' },
    h('div', { class: 'budget-name' }, l.name),
    meter(l.calls, l.limit_calls, (n) => `${n} calls`),
    meter(l.cost_usd, l.limit_usd, (n) => fmtUsd(n)),
  );
}

/** @param {Budget | null} b */
export function budgetCard(b) {
  if (!b) return h('section', { class: 'card', 'data-testid': 'budget' }, h('h3', {}, "Today's budget"), h('p', { class: 'empty' }, 'unavailable'));
  const lines = [];
  if (b.global) lines.push(budgetLine({ ...b.global, name: 'all agents' }));
  const rest = [...b.agents, ...b.projects.map((p) => ({ ...p, name: `project ${p.name}` }))];
  return h(
    'section',
    { class: 'card', 'data-testid': 'budget' },
    h('h3', {}, "Today's budget ", h('span', { class: 'muted' }, `${b.day} (${b.tz}), resets ${new Date(b.resets_at).toLocaleTimeString()}`)),
    lines,
    rest.length ? h('details', { class: 'budget-more' }, h('summary', {}, `by agent and project (${rest.length})`), rest.map(budgetLine)) : h('p', { class: 'empty' }, b.scoped ? 'no calls today for your projects' : 'no calls today'),
  );
}

/** @param {Health | null} health */
export function healthCard(health) {
  const now = Date.now();
  return h(
    'section',
    { class: 'card', 'data-testid': 'health-card' },
    h('h3', {}, 'Runners ', healthBadge(health)),
    health && health.runners.length
      ? h(
          'ul',
          { class: 'runners' },
          health.runners.map((r) =>
            h('li', { class: r.fresh ? 'fresh' : 'stale' }, h('span', { class: 'dot' }), h('code', {}, r.runner_id), ` on ${r.host} · heartbeat ${fmtAge(r.heartbeat_at, now)} · ${Array.isArray(r.running) ? r.running.length : Number(r.running) || 0} running`),
          ),
        )
      : h('p', { class: 'empty' }, health ? 'no runner has registered a heartbeat' : 'the gateway did not answer'),
    health?.queue_error ? h('p', { class: 'error' }, `queue: ${health.queue_error}`) : null,
  );
}

/**
 * Keep an element showing the header's health badge fresh.
 * @param {HTMLElement} el
 * @param {(h: Health | null) => void} [onHealth]
 */
export function watchHealth(el, onHealth) {
  let stopped = false;
  const tick = async () => {
    const health = await fetchHealth();
    if (stopped) return;
    replace(el, healthBadge(health));
    onHealth?.(health);
  };
  void tick();
  const t = setInterval(tick, 5000);
  return () => {
    stopped = true;
    clearInterval(t);
  };
}
