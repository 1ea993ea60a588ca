// @ts-check
/* global location, fetch, history -- browser globals (eslint) */
/**
 * The login form: a token (WEBHOOK_TOKEN or one of WEBHOOK_TOKENS) and, optionally, the name to
 * record on approvals. POSTed to /ui/login, which answers with a session cookie; the token is not
 * kept by the page. The form also works without scripts (a plain form post).
 */
import { ApiError } from '../api.js';
import { h, replace } from '../dom.js';

/**
 * @param {HTMLElement} root
 * @param {() => void} onLoggedIn
 */
export function loginView(root, onLoggedIn) {
  const token = /** @type {HTMLInputElement} */ (h('input', { type: 'password', name: 'token', required: true, autocomplete: 'off', placeholder: 'bearer token', 'aria-label': 'token' }));
  const name = /** @type {HTMLInputElement} */ (h('input', { type: 'text', name: 'name', maxlength: 100, autocomplete: 'nickname', placeholder: 'your name (optional, recorded on approvals)', 'aria-label': 'your name' }));
  const status = h('p', { class: 'form-status', role: 'status' }, location.hash === '#login-failed' ? 'That token was not accepted.' : '');
  const form = h(
    'form',
    { class: 'login card', method: 'post', action: '/ui/login', onsubmit: (e) => {
      e.preventDefault();
      void submit();
    } },
    h('h2', {}, 'agent-orchestrator'),
    h('p', { class: 'muted' }, 'Log in with an API token. The session lasts until you log out or stay away for a while.'),
    token,
    name,
    h('button', { type: 'submit' }, 'Log in'),
    status,
  );
  const submit = async () => {
    status.textContent = 'logging in…';
    try {
      const res = await fetch('/ui/login', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, credentials: 'same-origin', body: JSON.stringify({ token: token.value, ...(name.value.trim() ? { name: name.value.trim() } : {}) }) });
      if (!res.ok) {
        const body = /** @type {{error?: {message?: string}}} */ (await res.json().catch(() => ({})));
        throw new ApiError(res.status, 'E_LOGIN', body.error?.message ?? res.statusText);
      }
      token.value = '';
      if (location.hash === '#login-failed') history.replaceState(null, '', '#/queue');
      onLoggedIn();
    } catch (err) {
      status.textContent = err instanceof ApiError && err.status === 401 ? 'That token was not accepted.' : `Login failed: ${err instanceof Error ? err.message : String(err)}`;
    }
  };
  replace(root, h('div', { class: 'login-wrap' }, form));
  token.focus();
}
