// @ts-check
/* global confirm, alert, EventSource, history -- browser globals (eslint) */
/**
 * One job: its header (state, status, goal, cost, timing), a decision form when it waits, its
 * steps as a timeline (status, duration, attempts, cost, tokens), and tabs: the live log (the
 * SSE feed of GET /jobs/:id/events, which the browser sends the session cookie with), report.md
 * rendered, patch.diff rendered, and every artifact. Events patch the timeline at once; the
 * authoritative state.json is re-read (throttled) after each step and state change.
 */
import { ApiError, artifactPath, getJson, getText, jobPath, postJson } from '../api.js';
import { h, replace, route } from '../dom.js';
import { fmtAge, fmtCount, fmtDuration, fmtTime, fmtUsd } from '../format.js';
import { summarizeLogLine } from '../logline.js';
import { renderDiff, renderMarkdown } from '../render.js';
import { decisionForm, waitingInfo } from './decide.js';
import { stateBadge, statusBadge } from './queue.js';

/**
 * @typedef {{step_id: string, agent: string, role: string, status: string, attempts: number, started_at: string | null, finished_at: string | null, duration_ms: number, cost_usd: number, tokens_in: number, tokens_out: number, summary: string, error: {code: string, message: string} | null, tolerated?: boolean}} StepState
 * @typedef {{status: string, cursor: string | null, started_at: string | null, finished_at: string | null, created_at: string, waiting: import('./decide.js').Waiting | null, steps: StepState[], error: {code: string, message: string} | null, approvals: Array<{at: string, by: string, decision: string, reason: string, note?: string}>}} JobState
 * @typedef {{job_id: string, goal: string, project_id?: string, created_at: string, source?: {type: string}, steps: Array<{step_id: string, agent: string, role: string, requires_approval?: boolean}>}} Job
 * @typedef {{job_id: string, queue_state: string, job: Job, state: JobState | null, result: {metrics?: {duration_ms?: number, cost_usd?: number, tokens_in?: number, tokens_out?: number}} | null}} Status
 */

const TABS = /** @type {const} */ (['log', 'report', 'diff', 'artifacts']);
const MAX_LOG_LINES = 5000;
const MAX_LINE_CHARS = 4000;
const EVENT_TYPES = ['job:claimed', 'step:started', 'agent:output', 'step:retry', 'step:finished', 'job:parked', 'job:handed_back', 'job:recovered', 'job:finished', 'state', 'end'];

/** The steps of a status: state.json's, or the job's (pending) before the first claim. @param {Status} st @returns {StepState[]} */
function stepsOf(st) {
  if (st.state?.steps?.length) return st.state.steps;
  return st.job.steps.map((s) => ({ step_id: s.step_id, agent: s.agent, role: s.role, status: 'pending', attempts: 0, started_at: null, finished_at: null, duration_ms: 0, cost_usd: 0, tokens_in: 0, tokens_out: 0, summary: '', error: null }));
}

/**
 * @param {HTMLElement} root
 * @param {{id: string, tab: string | null}} params
 * @param {{by: string | null}} session
 */
export function jobView(root, params, session) {
  const id = params.id;
  /** @type {Status | null} */
  let st = null;
  let stopped = false;
  /** @type {EventSource | null} */
  let es = null;
  /** @type {(typeof TABS)[number]} */
  let tab = /** @type {any} */ (TABS.includes(/** @type {any} */ (params.tab)) ? params.tab : null) ?? 'log';
  const tabChosen = params.tab !== null;
  /** which tab contents are stale (reloaded when shown) */
  const stale = { report: true, diff: true, artifacts: true };

  const header = h('section', { class: 'card job-head' });
  const decide = h('div', { class: 'decide-slot' });
  const timeline = h('ol', { class: 'timeline', 'data-testid': 'timeline' });
  const tabBar = h('nav', { class: 'tabs', role: 'tablist' });
  const panes = {
    log: h('div', { class: 'pane log', 'data-testid': 'log', role: 'log', 'aria-live': 'off' }),
    report: h('div', { class: 'pane', 'data-testid': 'report' }),
    diff: h('div', { class: 'pane', 'data-testid': 'diff' }),
    artifacts: h('div', { class: 'pane', 'data-testid': 'artifacts' }),
  };
  const logFilter = /** @type {HTMLSelectElement} */ (h('select', { 'aria-label': 'show the log of' }, h('option', { value: '' }, 'all steps')));
  const logCount = h('span', { class: 'muted small' });
  const rawBox = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', onchange: () => panes.log.classList.toggle('show-raw', rawBox.checked) }));
  const logTools = h('div', { class: 'log-tools' }, logFilter, h('label', { class: 'small', title: 'the agent CLI\'s own output lines, as printed' }, rawBox, ' raw lines'), logCount, h('span', { class: 'live', 'data-testid': 'live' }));

  replace(
    root,
    h('p', { class: 'crumbs' }, h('a', { href: route('queue') }, '← queue')),
    header,
    decide,
    h('div', { class: 'job-body' }, h('section', { class: 'card steps' }, h('h3', {}, 'Steps'), timeline), h('section', { class: 'card tabs-card' }, tabBar, logTools, Object.values(panes))),
  );

  // ---- header, decision form, timeline ----

  const renderHeader = () => {
    if (!st) return;
    const s = st.state;
    const steps = stepsOf(st);
    const cost = steps.reduce((a, x) => a + (x.cost_usd || 0), 0);
    const tin = steps.reduce((a, x) => a + (x.tokens_in || 0), 0);
    const tout = steps.reduce((a, x) => a + (x.tokens_out || 0), 0);
    const started = s?.started_at ? Date.parse(s.started_at) : null;
    const finished = s?.finished_at ? Date.parse(s.finished_at) : null;
    const duration = started !== null ? (finished ?? Date.now()) - started : null;
    const canCancel = st.queue_state !== 'done' && st.queue_state !== 'failed';
    // a failed job runs again from the step it stopped at; a rejection is final (POST /jobs/:id/retry)
    const canRetry = st.queue_state === 'failed' && s?.error?.code !== 'E_REJECTED';
    const now = Date.now();
    replace(
      header,
      h(
        'div',
        { class: 'job-title' },
        h('h2', {}, 'Job ', h('code', { 'data-testid': 'job-id' }, id)),
        stateBadge(st.queue_state),
        (s?.status ?? 'pending') !== st.queue_state ? statusBadge(s?.status ?? 'pending') : null,
        h('span', { class: 'spacer' }),
        canCancel ? h('button', { type: 'button', class: 'cancel', 'data-action': 'cancel', onclick: () => void cancel() }, 'Cancel job') : null,
        canRetry ? h('button', { type: 'button', class: 'retry', 'data-action': 'retry', onclick: () => void retry() }, 'Retry job') : null,
      ),
      h('p', { class: 'goal-full', 'data-testid': 'goal' }, st.job.goal),
      h(
        'dl',
        { class: 'facts' },
        fact('project', st.job.project_id ?? '—'),
        fact('source', st.job.source?.type ?? '—'),
        fact('created', fmtAge(st.job.created_at, now), fmtTime(st.job.created_at)),
        fact('duration', duration === null ? '—' : fmtDuration(duration)),
        fact('cost', fmtUsd(cost)),
        fact('tokens', `${fmtCount(tin)} in · ${fmtCount(tout)} out`),
        fact('steps', `${steps.filter((x) => x.status === 'success' || x.status === 'skipped').length} / ${steps.length} done`),
      ),
      s?.error ? h('p', { class: 'error' }, h('code', {}, s.error.code), ' ', s.error.message) : null,
    );
    if (st.queue_state === 'awaiting_approval') {
      replace(decide, h('section', { class: 'card waiting', 'data-testid': 'waiting' }, h('h3', {}, 'Waiting for a decision'), waitingInfo(s?.waiting ?? null), decisionForm(id, s?.waiting ?? null, { by: session.by, onDone: () => void load() })));
    } else replace(decide);
  };

  /** @param {string} label @param {string} value @param {string} [title] */
  function fact(label, value, title) {
    return h('div', { class: 'fact' }, h('dt', {}, label), h('dd', title ? { title } : {}, value));
  }

  const renderTimeline = () => {
    if (!st) return;
    const now = Date.now();
    const cursor = st.state?.cursor ?? null;
    replace(
      timeline,
      stepsOf(st).map((x) => {
        const running = x.status === 'running';
        const dur = running && x.started_at ? now - Date.parse(x.started_at) : x.duration_ms;
        const stepDir = `steps/${x.step_id}`;
        return h(
          'li',
          { class: `step st-${x.status}${x.step_id === cursor && st?.queue_state !== 'done' ? ' current' : ''}`, 'data-step': x.step_id, 'data-status': x.status },
          h('span', { class: 'marker', 'aria-hidden': 'true' }),
          h(
            'div',
            { class: 'step-body' },
            h('div', { class: 'step-title' }, h('strong', {}, x.step_id), ' ', h('span', { class: 'muted' }, `${x.agent} · ${x.role}`), h('span', { class: 'spacer' }), statusBadge(x.status)),
            h(
              'div',
              { class: 'step-meta' },
              h('span', { title: 'duration' }, x.status === 'pending' ? '—' : fmtDuration(dur)),
              h('span', { title: 'attempts' }, `${x.attempts} attempt${x.attempts === 1 ? '' : 's'}`),
              h('span', { title: 'cost' }, fmtUsd(x.cost_usd)),
              h('span', { title: 'tokens in / out' }, `${fmtCount(x.tokens_in)} / ${fmtCount(x.tokens_out)} tok`),
            ),
            x.error ? h('div', { class: 'step-error' }, h('code', {}, x.error.code), ' ', x.error.message) : null,
            x.status !== 'pending'
              ? h(
                  'div',
                  { class: 'step-links' },
                  h('a', { href: route('artifact', id, `${stepDir}/report.md`) }, 'report'),
                  h('a', { href: route('artifact', id, `${stepDir}/patch.diff`) }, 'diff'),
                  h('a', { href: route('artifact', id, `${stepDir}/logs.txt`) }, 'log'),
                )
              : null,
          ),
        );
      }),
    );
  };

  const load = async () => {
    try {
      st = /** @type {Status} */ (await getJson(jobPath(id)));
    } catch (err) {
      if (stopped) return;
      replace(header, h('h2', {}, 'Job ', h('code', {}, id)), h('p', { class: 'error' }, err instanceof ApiError ? `${err.code}: ${err.message}` : String(err)));
      return;
    }
    if (stopped) return;
    renderHeader();
    renderTimeline();
    if (!tabChosen && !started && (st.queue_state === 'done' || st.queue_state === 'failed')) {
      started = true;
      showTab('report');
    }
    started = true;
    renderLogFilter();
  };
  let started = false;

  /** Re-read the status at most every 300 ms. */
  let pending = /** @type {ReturnType<typeof setTimeout> | null} */ (null);
  const refreshSoon = () => {
    if (pending) return;
    pending = setTimeout(() => {
      pending = null;
      void load();
    }, 300);
  };

  /**
   * Cancel or retry the job, once confirmed (POST /jobs/:id/cancel|retry).
   * @param {'cancel' | 'retry'} what
   * @param {string} question
   */
  const act = async (what, question) => {
    if (!confirm(question)) return;
    try {
      await postJson(jobPath(id, what), session.by ? { by: session.by } : {});
      if (what === 'retry' && !es) {
        // the job's event stream ended with the failure: follow the new run, replaying the log from the start
        panes.log.replaceChildren();
        lines = 0;
        connect();
      }
    } catch (err) {
      alert(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err));
    }
    refreshSoon();
  };
  const cancel = () => act('cancel', `Cancel job ${id}?`);
  const retry = () => act('retry', `Run job ${id} again from ${st?.state?.cursor ? `step ${st.state.cursor}` : 'the step it stopped at'}? Steps that succeeded are kept.`);

  // ---- the live log and the events ----

  const stepsSeen = new Set();
  let lines = 0;
  const renderLogFilter = () => {
    if (!st) return;
    for (const s of stepsOf(st)) stepsSeen.add(s.step_id);
    const cur = logFilter.value;
    replace(logFilter, h('option', { value: '' }, 'all steps'), [...stepsSeen].map((s) => h('option', { value: s, selected: s === cur }, s)));
  };
  logFilter.addEventListener('change', () => {
    panes.log.dataset.filter = logFilter.value;
    for (const el of panes.log.children) /** @type {HTMLElement} */ (el).hidden = logFilter.value !== '' && /** @type {HTMLElement} */ (el).dataset.step !== logFilter.value;
  });

  /** @param {string} text */
  const cut = (text) => (text.length > MAX_LINE_CHARS ? `${text.slice(0, MAX_LINE_CHARS)} … (${text.length - MAX_LINE_CHARS} more characters in logs.txt)` : text);

  /** @param {string} stepId @param {string} stream @param {string} text @param {string} [kind] */
  const logLine = (stepId, stream, text, kind = 'out') => {
    const nearBottom = panes.log.scrollHeight - panes.log.scrollTop - panes.log.clientHeight < 40;
    /** @type {HTMLElement} */
    let body;
    if (kind === 'out') {
      // an agent's line: its gist (raw JSON events summarised), the line as printed beside it for "raw lines"
      const sum = summarizeLogLine(text);
      body = h('span', { class: 'log-text' }, sum.json ? h('span', { class: 'log-gist' }, h('span', { class: 'log-kind' }, sum.kind), ' ', cut(sum.text)) : null, h('span', { class: sum.json ? 'log-raw' : '' }, cut(text)));
    } else body = h('span', { class: 'log-text' }, cut(text));
    const el = h('div', { class: `log-line ${stream} ${kind}`, 'data-step': stepId }, h('span', { class: 'log-step' }, stepId), body);
    if (logFilter.value && stepId !== logFilter.value) el.hidden = true;
    panes.log.appendChild(el);
    lines++;
    if (panes.log.childElementCount > MAX_LOG_LINES) panes.log.firstElementChild?.remove();
    logCount.textContent = `${lines} line${lines === 1 ? '' : 's'}${lines > MAX_LOG_LINES ? ` (last ${MAX_LOG_LINES} shown; logs.txt has all)` : ''}`;
    if (nearBottom) panes.log.scrollTop = panes.log.scrollHeight;
  };

  /** @param {string} stepId @param {Partial<StepState>} patch */
  const patchStep = (stepId, patch) => {
    if (!st) return;
    if (!st.state) return refreshSoon();
    st.state.steps = st.state.steps.map((s) => (s.step_id === stepId ? { ...s, ...patch } : s));
    renderTimeline();
  };

  /** @param {string} type @param {any} data @param {string} at */
  const onEvent = (type, data, at) => {
    switch (type) {
      case 'step:started':
        stepsSeen.add(data.step_id);
        patchStep(data.step_id, { status: 'running', attempts: data.attempt, started_at: at, error: null });
        logLine(data.step_id, 'event', `▶ step ${data.step_id} started (${data.agent}, attempt ${data.attempt})`, 'mark');
        if (st?.state) st.state.cursor = data.step_id;
        break;
      case 'step:finished':
        patchStep(data.step_id, { status: data.status, duration_ms: data.duration_ms, cost_usd: data.cost_usd, tokens_in: data.tokens_in, tokens_out: data.tokens_out, attempts: data.attempt });
        logLine(data.step_id, 'event', `■ step ${data.step_id} ${data.status} in ${fmtDuration(data.duration_ms)}${data.error_code ? ` (${data.error_code})` : ''}`, 'mark');
        refreshSoon();
        markStale();
        break;
      case 'step:retry':
        patchStep(data.step_id, { status: 'retryable' });
        logLine(data.step_id, 'event', `↻ retry ${data.step_id} in ${fmtDuration(data.delay_ms)}${data.error_code ? ` (${data.error_code})` : ''}`, 'mark');
        break;
      case 'agent:output':
        logLine(data.step_id, data.stream === 'stderr' ? 'stderr' : 'stdout', String(data.line ?? ''));
        break;
      case 'job:parked':
        logLine(data.step_id ?? 'job', 'event', `⏸ waiting: ${data.reason}${data.message ? ` — ${data.message}` : ''}`, 'mark');
        refreshSoon();
        break;
      case 'job:finished':
        logLine('job', 'event', `■ job ${data.status}`, 'mark');
        refreshSoon();
        break;
      case 'job:claimed':
      case 'job:handed_back':
      case 'job:recovered':
      case 'state':
        refreshSoon();
        break;
      default:
        break;
    }
  };

  const live = /** @type {HTMLElement} */ (logTools.querySelector('.live'));
  const connect = () => {
    es = new EventSource(jobPath(id, 'events'));
    live.textContent = '● live';
    live.className = 'live on';
    for (const type of EVENT_TYPES) {
      es.addEventListener(type, (ev) => {
        const msg = /** @type {MessageEvent<string>} */ (ev);
        if (type === 'end') {
          es?.close();
          es = null;
          live.textContent = 'finished';
          live.className = 'live';
          markStale();
          refreshSoon();
          return;
        }
        let parsed;
        try {
          parsed = JSON.parse(msg.data);
        } catch {
          return;
        }
        if (type === 'state') onEvent(type, parsed, '');
        else onEvent(type, parsed?.data ?? {}, String(parsed?.at ?? new Date().toISOString()));
      });
    }
    es.onerror = () => {
      if (es && es.readyState === EventSource.CLOSED) {
        live.textContent = 'disconnected';
        live.className = 'live off';
        void load(); // a refused stream (an expired session: 401) shows the login form from here
      } else {
        live.textContent = 'reconnecting…';
      }
    };
  };

  // ---- tabs: report, diff, artifacts ----

  /** A step finished or the job ended: the report, diff and artifact list change; the one shown is reloaded. */
  let staleTimer = /** @type {ReturnType<typeof setTimeout> | null} */ (null);
  const markStale = () => {
    stale.report = stale.diff = stale.artifacts = true;
    if (tab === 'log' || staleTimer) return;
    staleTimer = setTimeout(() => {
      staleTimer = null;
      if (!stopped && tab !== 'log') showTab(tab);
    }, 400);
  };

  /** @param {(typeof TABS)[number]} t */
  const showTab = (t) => {
    tab = t;
    history.replaceState(null, '', route('jobs', id, t));
    replace(tabBar, TABS.map((x) => h('button', { type: 'button', role: 'tab', class: x === t ? 'active' : '', 'aria-selected': String(x === t), 'data-tab': x, onclick: () => showTab(x) }, { log: 'Live log', report: 'Report', diff: 'Diff', artifacts: 'Artifacts' }[x])));
    for (const [k, el] of Object.entries(panes)) el.hidden = k !== t;
    logTools.hidden = t !== 'log';
    if (t === 'log') panes.log.scrollTop = panes.log.scrollHeight; // follow the end (hidden, it could not scroll)
    if (t !== 'log' && stale[t]) {
      stale[t] = false;
      void loadTab(t);
    }
  };

  /** @param {'report' | 'diff' | 'artifacts'} t */
  const loadTab = async (t) => {
    const pane = panes[t];
    if (!pane.firstChild) replace(pane, h('p', { class: 'empty' }, 'loading…'));
    try {
      if (t === 'report') {
        const { text, truncated } = await getText(artifactPath(id, 'report.md'));
        replace(pane, h('div', { class: 'pane-tools' }, h('a', { href: route('artifact', id, 'report.md') }, 'report.md'), truncated ? ' (cut: too large)' : ''), text.trim() ? renderMarkdown(text) : h('p', { class: 'empty' }, 'No report yet: it is written when the job finishes a step.'));
      } else if (t === 'diff') {
        const { text, truncated } = await getText(artifactPath(id, 'patch.diff'));
        replace(pane, h('div', { class: 'pane-tools' }, h('a', { href: route('artifact', id, 'patch.diff') }, 'patch.diff'), ' · ', h('a', { href: artifactPath(id, 'patch.diff'), target: '_blank', rel: 'noopener' }, 'raw'), truncated ? ' (cut: too large)' : ''), renderDiff(text, { rawHref: artifactPath(id, 'patch.diff') }));
      } else {
        replace(pane, await artifactTree(id));
      }
    } catch (err) {
      stale[t] = true;
      replace(pane, h('p', { class: 'error' }, err instanceof ApiError ? `${err.code}: ${err.message}` : String(err)));
    }
  };

  showTab(tab);
  void load().then(() => {
    if (!stopped) connect();
  });
  const ticker = setInterval(() => {
    if (st && stepsOf(st).some((s) => s.status === 'running')) {
      renderTimeline();
      renderHeader();
    }
  }, 1000);

  return () => {
    stopped = true;
    es?.close();
    clearInterval(ticker);
    if (pending) clearTimeout(pending);
    if (staleTimer) clearTimeout(staleTimer);
  };
}

/**
 * Every artifact of the job, as links to the in-page viewer (and the raw file).
 * @param {string} id
 */
async function artifactTree(id) {
  /** @param {string} rel @param {number} depth @returns {Promise<HTMLElement>} */
  const list = async (rel, depth) => {
    /** @type {{entries: Array<{name: string, type: string}>}} */
    const dir = await getJson(artifactPath(id, rel) + '/');
    const items = await Promise.all(
      dir.entries.map(async (e) => {
        const path = rel ? `${rel}/${e.name}` : e.name;
        if (e.type === 'directory') return h('li', { class: 'dir' }, h('span', { class: 'dir-name' }, `${e.name}/`), depth < 4 ? await list(path, depth + 1) : null);
        return h('li', { class: 'file', 'data-artifact': path }, h('a', { href: route('artifact', id, path) }, e.name), ' ', h('a', { class: 'raw', href: artifactPath(id, path), target: '_blank', rel: 'noopener' }, 'raw'));
      }),
    );
    return h('ul', { class: 'tree' }, items);
  };
  return list('', 0);
}
