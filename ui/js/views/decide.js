// @ts-check
/**
 * Approve / reject a waiting job (POST /jobs/:id/approve|reject with the session's CSRF token),
 * with a reason; a job parked on the budget needs the explicit "run over budget" box.
 * Shared by the approvals list and the job page.
 */
import { ApiError, jobPath, postJson } from '../api.js';
import { h } from '../dom.js';
import { fmtAge, waitLabel } from '../format.js';

/**
 * @typedef {{reason: string, step_id: string | null, message: string, since: string, resume_after?: string | null}} Waiting
 */

/** The reason and its message. @param {Waiting | null} w */
export function waitingInfo(w) {
  if (!w) return h('p', { class: 'waiting-msg' }, h('span', { class: 'badge w-approval' }, 'approval'), ' waiting for a decision');
  return h(
    'div',
    { class: 'waiting-info' },
    h('span', { class: `badge w-${w.reason}`, 'data-reason': w.reason }, waitLabel(w.reason)),
    w.step_id ? h('span', {}, ' at step ', h('code', {}, w.step_id)) : null,
    h('span', { class: 'muted' }, ` · since ${fmtAge(w.since, Date.now())}`),
    w.resume_after ? h('span', { class: 'muted' }, ` · resumes by itself after ${new Date(w.resume_after).toLocaleString()}`) : null,
    w.message ? h('p', { class: 'waiting-msg' }, w.message) : null,
  );
}

/**
 * @param {string} jobId
 * @param {Waiting | null} waiting
 * @param {{by: string | null, onDone: (what: string) => void}} opts
 */
export function decisionForm(jobId, waiting, opts) {
  const reason = /** @type {HTMLInputElement} */ (h('input', { type: 'text', name: 'reason', placeholder: 'reason or note (recorded in the job history)', maxlength: 2000, 'aria-label': 'reason' }));
  const overBudget = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', name: 'over_budget' }));
  const status = h('span', { class: 'form-status', role: 'status' });
  const isBudget = waiting?.reason === 'budget_exceeded';
  /** @type {HTMLButtonElement[]} */
  const buttons = [];

  /** @param {'approve' | 'reject'} what */
  const act = async (what) => {
    if (what === 'reject' && !reason.value.trim()) {
      status.textContent = 'say why you reject it';
      reason.focus();
      return;
    }
    for (const b of buttons) b.disabled = true;
    status.textContent = `${what === 'approve' ? 'approving' : 'rejecting'}…`;
    /** @type {Record<string, unknown>} */
    const body = {};
    if (opts.by) body.by = opts.by;
    if (what === 'approve') {
      if (reason.value.trim()) body.note = reason.value.trim();
      if (isBudget) body.over_budget = overBudget.checked;
    } else body.reason = reason.value.trim();
    try {
      const r = await postJson(jobPath(jobId, what), body);
      status.textContent = `${what === 'approve' ? 'approved' : 'rejected'}: now ${String(r.queue_state).replace('_', ' ')}`;
      opts.onDone(what);
    } catch (err) {
      status.textContent = err instanceof ApiError ? `${err.code}: ${err.message}` : String(err);
      for (const b of buttons) b.disabled = false;
    }
  };
  buttons.push(
    /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: 'approve', 'data-action': 'approve' }, 'Approve')),
    /** @type {HTMLButtonElement} */ (h('button', { type: 'button', class: 'reject', 'data-action': 'reject', onclick: () => void act('reject') }, 'Reject')),
  );
  return h(
    'form',
    { class: 'decide', 'data-job': jobId, onsubmit: (e) => {
      e.preventDefault();
      void act('approve');
    } },
    reason,
    isBudget ? h('label', { class: 'over-budget' }, overBudget, ' run over budget') : null,
    buttons,
    status,
  );
}
