// @ts-check
/* global document -- browser globals (eslint) */
/**
 * Building the page. Every node is made with createElement and every piece of text set as a text
 * node, so nothing the server sends (agent output, diffs, file names, prompts) is ever parsed as
 * HTML. The page's Content-Security-Policy adds Trusted Types with no policy: the browser itself
 * refuses innerHTML, outerHTML and document.write, should anyone try.
 */

/** @typedef {string | number | Node | null | undefined | false} Child */
/** @typedef {Record<string, string | number | boolean | null | undefined | EventListener>} Attrs */

/**
 * A link target we allow: a fragment, a path on this origin, or an absolute http(s) URL.
 * Anything else (javascript:, data:, //host...) becomes "#".
 * @param {string} href
 */
export function safeHref(href) {
  if (href.startsWith('#')) return href;
  if (href.startsWith('/') && !href.startsWith('//') && !href.startsWith('/\\')) return href;
  try {
    const u = new URL(href);
    if (u.protocol === 'http:' || u.protocol === 'https:') return u.href;
  } catch {
    // not an absolute URL
  }
  return '#';
}

/**
 * @param {Element} el
 * @param {Array<Child | Child[]>} children
 */
export function append(el, children) {
  for (const c of children) {
    if (Array.isArray(c)) append(el, c);
    else if (c === null || c === undefined || c === false) continue;
    else if (typeof c === 'string' || typeof c === 'number') el.appendChild(document.createTextNode(String(c)));
    else el.appendChild(c);
  }
}

/**
 * `h('a', {href: '#/jobs/x', class: 'job'}, 'text', child...)`. Attributes are set one by one
 * (`on*` takes functions only, `href` is filtered by safeHref); children are nodes or text.
 * @param {string} tag
 * @param {Attrs} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) {
      if (typeof v !== 'function') throw new Error(`attribute ${k} must be a function`);
      el.addEventListener(k.slice(2), v);
    } else if (typeof v === 'function') {
      throw new Error(`attribute ${k} cannot be a function`);
    } else if (k === 'class') {
      el.className = String(v);
    } else if (k === 'href') {
      el.setAttribute('href', safeHref(String(v)));
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

/** @param {Element} el @param {...(Child | Child[])} children */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A link to a view of this page: `#/jobs/<id>` and friends, each part URI-encoded. @param {...string} parts */
export function route(...parts) {
  return `#/${parts.map((p) => encodeURIComponent(p)).join('/')}`;
}
