// @ts-check
/* global document, window, location, history -- browser globals (eslint) */
/**
 * The dashboard's entry point: ask who is logged in (GET /ui/session), show the login form or
 * the shell (header with health and navigation, one view at a time), and route on the URL's
 * fragment: #/queue[/<state>], #/jobs/<id>[/<tab>], #/approvals, #/artifact/<id>/<path>.
 * Each view returns a cleanup function (timers, the SSE connection) run when it is left.
 */
import { getJson, postJson, setCsrf, setUnauthorizedHandler } from './api.js';
import { h, replace, route } from './dom.js';
import { approvalsView } from './views/approvals.js';
import { artifactView } from './views/artifact.js';
import { jobView } from './views/job.js';
import { loginView } from './views/login.js';
import { queueView } from './views/queue.js';
import { watchHealth } from './views/status.js';

/** @typedef {{principal: {id: string, projects: string[] | '*'}, name: string | null, csrf: string, expires_at: string}} Session */

const app = /** @type {HTMLElement} */ (document.getElementById('app'));
/** @type {() => void} */
let leaveView = () => undefined;
/** @type {() => void} */
let stopHealth = () => undefined;
/** @type {Session | null} */
let session = null;
/** @type {HTMLElement | null} */
let view = null;
/** @type {HTMLElement | null} */
let nav = null;

/** The fragment as decoded parts (`#/jobs/a%2Fb` → ['jobs', 'a/b']). */
function routeParts() {
  try {
    return location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map((p) => decodeURIComponent(p));
  } catch {
    return [];
  }
}

function showLogin() {
  leaveView();
  leaveView = () => undefined;
  stopHealth();
  session = null;
  setCsrf(null);
  document.title = 'Log in · agent-orchestrator';
  loginView(app, () => void start());
}

function render() {
  if (!session || !view) return;
  leaveView();
  leaveView = () => undefined;
  const [page, a, ...rest] = routeParts();
  const by = session.name;
  for (const link of nav?.querySelectorAll('a') ?? []) link.classList.toggle('active', link.dataset.page === (page === 'jobs' || page === 'artifact' ? 'queue' : page ?? 'queue'));
  if (page === 'jobs' && a) {
    document.title = `Job ${a} · agent-orchestrator`;
    leaveView = jobView(view, { id: a, tab: rest[0] ?? null }, { by });
  } else if (page === 'artifact' && a && rest.length) {
    document.title = `${rest.join('/')} · ${a}`;
    leaveView = artifactView(view, { id: a, path: rest.join('/') });
  } else if (page === 'approvals') {
    document.title = 'Approvals · agent-orchestrator';
    leaveView = approvalsView(view, { by });
  } else {
    document.title = 'Queue · agent-orchestrator';
    leaveView = queueView(view, { state: page === 'queue' ? (a ?? null) : null });
  }
  window.scrollTo(0, 0);
}

function shell() {
  if (!session) return;
  const s = session;
  const health = h('span', { class: 'health-slot' });
  const waitingCount = h('span', { class: 'count', 'data-testid': 'waiting-count' });
  nav = h(
    'nav',
    { class: 'main-nav' },
    h('a', { href: route('queue'), 'data-page': 'queue' }, 'Queue'),
    h('a', { href: route('approvals'), 'data-page': 'approvals' }, 'Approvals ', waitingCount),
  );
  view = h('main', { id: 'view' });
  const who = s.name ? `${s.name} · ${s.principal.id}` : s.principal.id;
  const scope = s.principal.projects === '*' ? 'all projects' : `projects: ${s.principal.projects.join(', ')}`;
  replace(
    app,
    h(
      'header',
      { class: 'top' },
      h('a', { class: 'brand', href: route('queue') }, h('span', { class: 'logo', 'aria-hidden': 'true' }), 'agent-orchestrator'),
      nav,
      h('span', { class: 'spacer' }),
      health,
      h('span', { class: 'who', title: scope, 'data-testid': 'who' }, who),
      h('button', { type: 'button', class: 'logout', onclick: () => void logout() }, 'Log out'),
    ),
    view,
  );
  stopHealth();
  stopHealth = watchHealth(health, (hl) => {
    const n = hl?.queue?.awaiting_approval ?? 0;
    waitingCount.textContent = n ? String(n) : '';
  });
}

async function logout() {
  try {
    await postJson('/ui/logout');
  } finally {
    showLogin();
  }
}

async function start() {
  try {
    session = /** @type {Session} */ (await getJson('/ui/session'));
  } catch {
    showLogin();
    return;
  }
  setCsrf(session.csrf);
  shell();
  if (!location.hash || location.hash === '#login-failed') history.replaceState(null, '', route('queue'));
  render();
}

setUnauthorizedHandler(() => {
  if (session) showLogin();
});
window.addEventListener('hashchange', () => render());
void start();
