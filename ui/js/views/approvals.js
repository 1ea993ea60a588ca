// @ts-check
/* global URLSearchParams -- browser globals (eslint) */
/**
 * Approvals: every job waiting in awaiting_approval, with why (an approval gate, a step that asks
 * a human, the budget...), and approve / reject with a reason right there.
 */
import { getJson } from '../api.js';
import { h, replace, route } from '../dom.js';
import { fmtUsd } from '../format.js';
import { decisionForm, waitingInfo } from './decide.js';

/**
 * @param {HTMLElement} root
 * @param {{by: string | null}} session
 */
export function approvalsView(root, session) {
  const list = h('div', { class: 'approvals', 'data-testid': 'approvals' });
  const more = h('div', { class: 'pager' });
  replace(root, h('section', { class: 'card wide' }, h('h2', {}, 'Waiting for a decision'), list, more));
  let stopped = false;
  /** @type {string | null} */
  let cursor = null;

  /** @param {boolean} reset */
  const load = async (reset) => {
    if (reset) cursor = null;
    const q = new URLSearchParams({ state: 'awaiting_approval', view: 'summary', limit: '50' });
    if (cursor) q.set('cursor', cursor);
    /** @type {{jobs: import('./queue.js').Row[], next_cursor: string | null}} */
    const page = await getJson(`/jobs?${q}`);
    if (stopped) return;
    const cards = page.jobs.map((r) =>
      h(
        'article',
        { class: 'approval', 'data-job': r.job_id },
        h('header', {}, h('a', { href: route('jobs', r.job_id) }, h('code', {}, r.job_id)), h('span', { class: 'goal' }, r.summary?.goal ?? ''), h('span', { class: 'spacer' }), h('span', { class: 'muted' }, `${r.summary ? fmtUsd(r.summary.cost_usd) : ''} so far`)),
        waitingInfo(r.summary?.waiting ?? null),
        decisionForm(r.job_id, r.summary?.waiting ?? null, { by: session.by, onDone: () => setTimeout(() => void load(true), 600) }),
      ),
    );
    if (reset) replace(list, cards.length ? cards : h('p', { class: 'empty', 'data-testid': 'no-approvals' }, 'Nothing is waiting for a decision.'));
    else for (const c of cards) list.appendChild(c);
    cursor = page.next_cursor;
    replace(more, cursor ? h('button', { type: 'button', onclick: () => void load(false) }, 'more') : null);
  };
  void load(true).catch(() => undefined);
  return () => {
    stopped = true;
  };
}
