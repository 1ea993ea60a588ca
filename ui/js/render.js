// @ts-check
/* global document -- browser globals (eslint) */
/**
 * Markdown and diffs as DOM: the trees of markdown.js and diff.js turned into elements with
 * createElement and text nodes only (dom.js), so agent-written text can never become markup.
 */
import { diffFileName, parseDiff } from './diff.js';
import { h } from './dom.js';
import { parseMarkdown } from './markdown.js';

/** @typedef {import('./markdown.js').Inline} Inline */
/** @typedef {import('./markdown.js').Block} Block */

/** @param {Inline[]} nodes @returns {Node[]} */
function inline(nodes) {
  return nodes.map((n) => {
    switch (n.type) {
      case 'text':
        return document.createTextNode(n.text);
      case 'code':
        return h('code', {}, n.text);
      case 'strong':
        return h('strong', {}, inline(n.children));
      case 'em':
        return h('em', {}, inline(n.children));
      case 'link':
        // relative targets would resolve against /ui/: keep them as text with the target shown
        return /^https?:\/\//i.test(n.href) ? h('a', { href: n.href, target: '_blank', rel: 'noopener noreferrer' }, inline(n.children)) : h('span', { class: 'md-link', title: n.href }, inline(n.children));
      case 'br':
        return h('br');
      default:
        return document.createTextNode('');
    }
  });
}

/** @param {Block[]} blocks @returns {HTMLElement[]} */
function blocksToDom(blocks) {
  return blocks.map((b) => {
    switch (b.type) {
      case 'heading':
        return h(`h${Math.min(6, Math.max(1, b.level))}`, {}, inline(b.children));
      case 'paragraph':
        return h('p', {}, inline(b.children));
      case 'code':
        return h('pre', { class: 'md-code', 'data-lang': b.lang || undefined }, h('code', {}, b.text));
      case 'list':
        return h(b.ordered ? 'ol' : 'ul', b.ordered && b.start !== 1 ? { start: b.start } : {}, b.items.map((it) => h('li', {}, inline(it))));
      case 'quote':
        return h('blockquote', {}, blocksToDom(b.children));
      case 'table':
        return h(
          'div',
          { class: 'md-table' },
          h(
            'table',
            {},
            h('thead', {}, h('tr', {}, b.header.map((c, k) => h('th', { class: b.align[k] ? `al-${b.align[k]}` : undefined }, inline(c))))),
            h('tbody', {}, b.rows.map((r) => h('tr', {}, r.map((c, k) => h('td', { class: b.align[k] ? `al-${b.align[k]}` : undefined }, inline(c)))))),
          ),
        );
      case 'hr':
        return h('hr');
      default:
        return h('div');
    }
  });
}

/** report.md (or any Markdown) as a rendered, inert element. @param {string} text */
export function renderMarkdown(text) {
  return h('div', { class: 'markdown' }, blocksToDom(parseMarkdown(text)));
}

const MAX_DIFF_LINES = 20_000;

/**
 * patch.diff as one collapsible table per file: line numbers, +/− lines coloured by class.
 * @param {string} text
 * @param {{rawHref?: string}} [opts]
 */
export function renderDiff(text, opts = {}) {
  const files = parseDiff(text);
  if (files.length === 0) return h('p', { class: 'empty' }, 'No changes.');
  let budget = MAX_DIFF_LINES;
  const adds = files.reduce((a, f) => a + f.additions, 0);
  const dels = files.reduce((a, f) => a + f.deletions, 0);
  return h(
    'div',
    { class: 'diff' },
    h('p', { class: 'diff-stats' }, `${files.length} file${files.length === 1 ? '' : 's'} changed, `, h('span', { class: 'add-n' }, `+${adds}`), ' ', h('span', { class: 'del-n' }, `−${dels}`)),
    files.map((f) => {
      /** @type {HTMLElement[]} */
      const rows = [];
      for (const hunk of f.hunks) {
        rows.push(h('tr', { class: 'hunk' }, h('td', { class: 'ln' }), h('td', { class: 'ln' }), h('td', { class: 'code' }, hunk.header)));
        for (const l of hunk.lines) {
          if (budget-- <= 0) break;
          const sign = l.type === 'add' ? '+' : l.type === 'del' ? '−' : l.type === 'note' ? '\\' : ' ';
          rows.push(h('tr', { class: l.type }, h('td', { class: 'ln' }, l.oldNo ?? ''), h('td', { class: 'ln' }, l.newNo ?? ''), h('td', { class: 'code' }, h('span', { class: 'sign' }, sign), l.text)));
        }
      }
      const truncated = budget < 0;
      return h(
        'details',
        { class: 'diff-file', open: true, 'data-file': diffFileName(f) },
        h('summary', {}, h('span', { class: `badge st-${f.status}` }, f.status), ' ', h('span', { class: 'path' }, diffFileName(f)), ' ', h('span', { class: 'add-n' }, `+${f.additions}`), ' ', h('span', { class: 'del-n' }, `−${f.deletions}`)),
        f.meta.length && f.hunks.length === 0 ? h('pre', { class: 'diff-meta' }, f.meta.join('\n')) : null,
        rows.length ? h('table', { class: 'diff-table' }, h('tbody', {}, rows)) : null,
        truncated ? h('p', { class: 'empty' }, 'Diff cut here: ', opts.rawHref ? h('a', { href: opts.rawHref, target: '_blank', rel: 'noopener' }, 'open the raw patch') : 'see patch.diff') : null,
      );
    }),
  );
}
