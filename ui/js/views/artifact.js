// @ts-check
/**
 * One artifact in the page: Markdown rendered, diffs rendered, JSON pretty-printed, anything else
 * as plain text; always as text nodes, with a link to the raw file (which the gateway serves with
 * a sandboxing Content-Security-Policy and nosniff).
 */
import { ApiError, artifactPath, getText } from '../api.js';
import { h, replace, route } from '../dom.js';
import { renderDiff, renderMarkdown } from '../render.js';

/**
 * @param {HTMLElement} root
 * @param {{id: string, path: string}} params
 */
export function artifactView(root, params) {
  const { id, path } = params;
  const body = h('div', { class: 'pane', 'data-testid': 'artifact' }, h('p', { class: 'empty' }, 'loading…'));
  const parts = path.split('/');
  replace(
    root,
    h('p', { class: 'crumbs' }, h('a', { href: route('queue') }, 'queue'), ' / ', h('a', { href: route('jobs', id) }, id), ' / ', h('a', { href: route('jobs', id, 'artifacts') }, 'artifacts'), ' / ', parts.join(' / ')),
    h('section', { class: 'card wide' }, h('div', { class: 'pane-tools' }, h('strong', {}, path), ' · ', h('a', { href: artifactPath(id, path), target: '_blank', rel: 'noopener' }, 'raw')), body),
  );
  let stopped = false;
  void (async () => {
    try {
      const { text, truncated, size } = await getText(artifactPath(id, path));
      if (stopped) return;
      const note = truncated ? h('p', { class: 'muted' }, `Showing the first 2 MB of ${size} bytes; open the raw file for all of it.`) : null;
      if (/\.md$/i.test(path)) replace(body, note, renderMarkdown(text));
      else if (/\.(diff|patch)$/i.test(path)) replace(body, note, renderDiff(text, { rawHref: artifactPath(id, path) }));
      else if (/\.json$/i.test(path) && !truncated) {
        let pretty = text;
        try {
          pretty = JSON.stringify(JSON.parse(text), null, 2);
        } catch {
          // not valid JSON: shown as it is
        }
        replace(body, h('pre', { class: 'text' }, pretty));
      } else replace(body, note, text ? h('pre', { class: 'text' }, text) : h('p', { class: 'empty' }, '(empty file)'));
    } catch (err) {
      if (!stopped) replace(body, h('p', { class: 'error' }, err instanceof ApiError ? `${err.code}: ${err.message}` : String(err)));
    }
  })();
  return () => {
    stopped = true;
  };
}
