// @ts-check
/* global location, URLSearchParams -- browser globals (eslint) */
/**
 * The queue: counts per state, the runner's health, today's budget, and one page of jobs (newest
 * first) with status, agents, progress, age and cost. Paging is the API's cursor paging and the
 * filter is the API's state filter: the page never asks for more than one page, so it stays fast
 * with 10,000 jobs. The first page refreshes itself every few seconds.
 */
import { getJson } from '../api.js';
import { h, replace, route } from '../dom.js';
import { fmtAge, fmtUsd } from '../format.js';
import { budgetCard, fetchBudget, fetchHealth, healthCard } from './status.js';

export const STATES = ['pending', 'awaiting_approval', 'running', 'done', 'failed'];

/**
 * @typedef {{goal: string, project_id: string | null, agents: string[], steps_total: number, steps_done: number, status: string, cursor: string | null, created_at: string, started_at: string | null, finished_at: string | null, cost_usd: number, tokens_in: number, tokens_out: number, waiting: {reason: string, step_id: string | null, message: string, since: string} | null, error_code: string | null}} Summary
 * @typedef {{job_id: string, queue_state: string, mtime_ms: number, summary: Summary | null}} Row
 */

/** A state badge. @param {string} state */
export function stateBadge(state) {
  return h('span', { class: `badge q-${state}`, 'data-queue-state': state }, state.replace('_', ' '));
}

/** A status badge (state.json's status). @param {string} status */
export function statusBadge(status) {
  return h('span', { class: `badge st-${status}`, 'data-status': status }, status.replace('_', ' '));
}

/**
 * @param {HTMLElement} root
 * @param {{state: string | null}} params
 */
export function queueView(root, params) {
  const state = params.state && STATES.includes(params.state) ? params.state : null;
  let limit = 50;
  /** @type {Array<string | null>} cursors of the pages before this one */
  const back = [];
  /** @type {string | null} */
  let cursor = null;
  /** @type {string | null} */
  let nextCursor = null;
  let stopped = false;

  const cards = h('div', { class: 'cards' });
  const chips = h('nav', { class: 'chips', 'aria-label': 'filter by state' });
  const tableBody = h('tbody');
  const pager = h('div', { class: 'pager' });
  const jump = /** @type {HTMLInputElement} */ (h('input', { type: 'search', placeholder: 'job id…', 'aria-label': 'open a job by id', spellcheck: 'false' }));
  const sizeSel = /** @type {HTMLSelectElement} */ (h('select', { 'aria-label': 'jobs per page' }, [25, 50, 100, 200].map((n) => h('option', { value: n, selected: n === limit }, `${n} per page`))));
  sizeSel.addEventListener('change', () => {
    limit = Number(sizeSel.value);
    cursor = null;
    back.length = 0;
    void loadPage();
  });

  replace(
    root,
    h('div', { class: 'view-queue' }, cards),
    h(
      'section',
      { class: 'card wide' },
      h('div', { class: 'toolbar' }, chips, h('form', { class: 'jump', onsubmit: (e) => {
        e.preventDefault();
        const id = jump.value.trim();
        if (id) location.hash = route('jobs', id);
      } }, jump), sizeSel),
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'jobs', 'data-testid': 'jobs' },
          h('thead', {}, h('tr', {}, ['Job', 'State', 'Status', 'Agents', 'Steps', 'Created', 'Updated', 'Cost'].map((t) => h('th', {}, t)))),
          tableBody,
        ),
      ),
      pager,
    ),
  );

  /** @param {Record<string, number> | null} counts */
  const renderChips = (counts) => {
    const total = counts ? Object.values(counts).reduce((a, n) => a + n, 0) : null;
    replace(
      chips,
      h('a', { href: route('queue'), class: `chip ${state === null ? 'active' : ''}` }, 'all ', h('span', { class: 'n' }, total ?? '')),
      STATES.map((s) => h('a', { href: route('queue', s), class: `chip q-${s} ${state === s ? 'active' : ''}`, 'data-count': s }, s.replace('_', ' '), ' ', h('span', { class: 'n' }, counts?.[s] ?? ''))),
    );
  };

  /** @param {Row} r @param {number} now */
  const row = (r, now) => {
    const s = r.summary;
    const href = route('jobs', r.job_id);
    return h(
      'tr',
      { 'data-job': r.job_id },
      h('td', { class: 'job' }, h('a', { href }, h('code', {}, r.job_id.length > 14 ? `${r.job_id.slice(0, 12)}…` : r.job_id)), h('div', { class: 'goal', title: s?.goal ?? '' }, s?.goal ?? '')),
      h('td', {}, stateBadge(r.queue_state)),
      h('td', {}, s ? statusBadge(s.status) : '—', s?.waiting ? h('div', { class: 'muted small' }, s.waiting.reason) : null),
      h('td', { class: 'agents' }, (s?.agents ?? []).join(', ')),
      h('td', {}, s ? `${s.steps_done}/${s.steps_total}` : '—', s?.cursor && r.queue_state === 'running' ? h('div', { class: 'muted small' }, s.cursor) : null),
      h('td', { title: s?.created_at ?? '' }, s ? fmtAge(s.created_at, now) : '—'),
      h('td', {}, fmtAge(r.mtime_ms, now)),
      h('td', { class: 'num' }, s ? fmtUsd(s.cost_usd) : '—'),
    );
  };

  const loadPage = async () => {
    const q = new URLSearchParams({ view: 'summary', limit: String(limit) });
    if (state) q.set('state', state);
    if (cursor) q.set('cursor', cursor);
    /** @type {{jobs: Row[], next_cursor: string | null}} */
    const page = await getJson(`/jobs?${q}`);
    if (stopped) return;
    nextCursor = page.next_cursor;
    const now = Date.now();
    replace(tableBody, page.jobs.length ? page.jobs.map((r) => row(r, now)) : h('tr', {}, h('td', { colspan: 8, class: 'empty' }, state ? `no ${state.replace('_', ' ')} jobs` : 'no jobs yet')));
    replace(
      pager,
      h('button', { type: 'button', disabled: back.length === 0, onclick: () => {
        cursor = back.pop() ?? null;
        void loadPage();
      } }, '← newer'),
      h('span', { class: 'muted' }, `page ${back.length + 1}`),
      h('button', { type: 'button', disabled: !nextCursor, 'data-testid': 'older', onclick: () => {
        back.push(cursor);
        cursor = nextCursor;
        void loadPage();
      } }, 'older →'),
    );
  };

  const loadCards = async () => {
    const [health, budget] = await Promise.all([fetchHealth(), fetchBudget()]);
    if (stopped) return;
    replace(cards, healthCard(health), budgetCard(budget));
    renderChips(health?.queue ?? null);
  };

  renderChips(null);
  const refresh = async () => {
    try {
      await Promise.all([loadCards(), cursor === null ? loadPage() : Promise.resolve()]);
    } catch {
      // shown by the next successful refresh; a 401 already switched to the login form
    }
  };
  void refresh();
  const timer = setInterval(refresh, 4000);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
