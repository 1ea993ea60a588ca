// @ts-check
/**
 * A small Markdown parser for report.md (and any other .md artifact): text in, a tree of plain
 * objects out. No HTML is ever produced or passed through: raw HTML in the input stays text, and
 * the tree is turned into DOM nodes by render.js with textContent only. Pure (no DOM), so it is
 * tested under Node too.
 *
 * The subset: ATX headings, fenced code blocks, GitHub tables, bullet and numbered lists (one
 * level, with continuation lines), block quotes, rules, paragraphs; inline code spans, **bold**,
 * *italic* / _italic_, and [links](http://...) whose target is http(s) or a relative path.
 */

/**
 * @typedef {{type: 'text', text: string} | {type: 'code', text: string} | {type: 'strong', children: Inline[]} | {type: 'em', children: Inline[]} | {type: 'link', href: string, children: Inline[]} | {type: 'br'}} Inline
 * @typedef {{type: 'heading', level: number, children: Inline[]}
 *   | {type: 'paragraph', children: Inline[]}
 *   | {type: 'code', lang: string, text: string}
 *   | {type: 'list', ordered: boolean, start: number, items: Inline[][]}
 *   | {type: 'quote', children: Block[]}
 *   | {type: 'table', align: Array<'left' | 'center' | 'right' | null>, header: Inline[][], rows: Inline[][][]}
 *   | {type: 'hr'}} Block
 */

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const HR = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const BULLET = /^ {0,3}[-*+][ \t]+(.*)$/;
const ORDERED = /^ {0,3}(\d{1,9})[.)][ \t]+(.*)$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const TABLE_SEP = /^ {0,3}\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;

/** @param {string} line */
const isBlank = (line) => line.trim() === '';

/** How far an inline construct may reach for its closing mark: keeps hostile input linear. */
const REACH = 2000;

/**
 * indexOf within `REACH` characters of `from` (never scanning the rest of the text).
 * @param {string} s @param {string} needle @param {number} from
 */
function findNear(s, needle, from) {
  const at = s.slice(from, from + REACH).indexOf(needle);
  return at < 0 ? -1 : from + at;
}

/** Split a table row on unescaped pipes (a leading and trailing pipe are optional). @param {string} line */
export function splitRow(line) {
  let s = line.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  /** @type {string[]} */
  const cells = [];
  let cur = '';
  let inCode = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && s[i + 1] === '|') {
      cur += '|';
      i++;
    } else if (c === '`') {
      inCode = !inCode;
      cur += c;
    } else if (c === '|' && !inCode) {
      cells.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  cells.push(cur.trim());
  return cells;
}

/**
 * @param {string} text
 * @returns {Block[]}
 */
export function parseMarkdown(text) {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  return parseBlocks(lines, 0);
}

/**
 * @param {string[]} lines
 * @param {number} depth
 * @returns {Block[]}
 */
function parseBlocks(lines, depth) {
  /** @type {Block[]} */
  const out = [];
  let i = 0;
  /** @type {string[]} */
  let para = [];
  const flush = () => {
    if (para.length) out.push({ type: 'paragraph', children: parseInline(para.map((l) => l.trim()).join('\n')) });
    para = [];
  };
  while (i < lines.length) {
    const line = lines[i] ?? '';
    let m;
    if (isBlank(line)) {
      flush();
      i++;
    } else if ((m = FENCE.exec(line))) {
      flush();
      const fence = m[1] ?? '```';
      const body = [];
      i++;
      while (i < lines.length) {
        const l = lines[i] ?? '';
        const t = l.trim();
        if (t.length >= fence.length && t[0] === fence[0] && /^(`+|~+)$/.test(t)) break;
        body.push(l);
        i++;
      }
      i++; // the closing fence (or the end)
      out.push({ type: 'code', lang: (m[2] ?? '').slice(0, 30), text: body.join('\n') });
    } else if ((m = HEADING.exec(line))) {
      flush();
      out.push({ type: 'heading', level: (m[1] ?? '#').length, children: parseInline(m[2] ?? '') });
      i++;
    } else if (HR.test(line) && para.length === 0) {
      out.push({ type: 'hr' });
      i++;
    } else if (line.includes('|') && TABLE_SEP.test(lines[i + 1] ?? '') && (lines[i + 1] ?? '').includes('-')) {
      flush();
      const header = splitRow(line);
      const align = splitRow(lines[i + 1] ?? '').map((c) => (c.startsWith(':') && c.endsWith(':') ? 'center' : c.endsWith(':') ? 'right' : c.startsWith(':') ? 'left' : null));
      i += 2;
      /** @type {Inline[][][]} */
      const rows = [];
      while (i < lines.length && !isBlank(lines[i] ?? '') && (lines[i] ?? '').includes('|')) {
        const cells = splitRow(lines[i] ?? '');
        rows.push(header.map((_, k) => parseInline(cells[k] ?? '')));
        i++;
      }
      out.push({ type: 'table', align: /** @type {Array<'left' | 'center' | 'right' | null>} */ (header.map((_, k) => align[k] ?? null)), header: header.map((c) => parseInline(c)), rows });
    } else if (QUOTE.test(line) && depth < 8) {
      flush();
      const body = [];
      while (i < lines.length && (m = QUOTE.exec(lines[i] ?? ''))) {
        body.push(m[1] ?? '');
        i++;
      }
      out.push({ type: 'quote', children: parseBlocks(body, depth + 1) });
    } else if (BULLET.test(line) || ORDERED.test(line)) {
      flush();
      const ordered = !BULLET.test(line);
      const start = ordered ? Number(ORDERED.exec(line)?.[1] ?? 1) : 1;
      const re = ordered ? ORDERED : BULLET;
      /** @type {string[][]} */
      const items = [];
      while (i < lines.length) {
        const l = lines[i] ?? '';
        const im = re.exec(l);
        if (im) {
          items.push([(ordered ? im[2] : im[1]) ?? '']);
          i++;
        } else if (!isBlank(l) && /^\s+\S/.test(l) && items.length) {
          items[items.length - 1]?.push(l.trim()); // a continuation (or a nested item, shown flat)
          i++;
        } else break;
      }
      out.push({ type: 'list', ordered, start, items: items.map((it) => parseInline(it.join('\n'))) });
    } else {
      para.push(line);
      i++;
    }
  }
  flush();
  return out;
}

/** A link target we keep: http(s), or a relative path without a scheme. @param {string} href */
export function safeLinkTarget(href) {
  const t = href.trim();
  if (/^https?:\/\//i.test(t)) return t;
  if (/^[a-z][a-z0-9+.-]*:/i.test(t) || t.startsWith('//')) return null;
  return t;
}

/**
 * @param {string} s
 * @param {number} [depth]
 * @returns {Inline[]}
 */
export function parseInline(s, depth = 0) {
  /** @type {Inline[]} */
  const out = [];
  let text = '';
  const pushText = () => {
    if (text) out.push({ type: 'text', text });
    text = '';
  };
  let i = 0;
  while (i < s.length) {
    const c = s[i] ?? '';
    if (c === '\\' && i + 1 < s.length && /[\\`*_[\]()#|!<>{}.+-]/.test(s[i + 1] ?? '')) {
      text += s[i + 1];
      i += 2;
      continue;
    }
    if (c === '\n') {
      text += ' ';
      i++;
      continue;
    }
    if (c === '`') {
      let n = 1;
      while (s[i + n] === '`') n++;
      const ticks = '`'.repeat(n);
      const end = findNear(s, ticks, i + n);
      if (end > 0) {
        pushText();
        let code = s.slice(i + n, end).replace(/\n/g, ' ');
        if (code.startsWith(' ') && code.endsWith(' ') && code.trim()) code = code.slice(1, -1);
        out.push({ type: 'code', text: code });
        i = end + n;
        continue;
      }
      text += ticks;
      i += n;
      continue;
    }
    if (depth < 6 && (s.startsWith('**', i) || s.startsWith('__', i))) {
      const mark = s.slice(i, i + 2);
      const end = findNear(s, mark, i + 2);
      if (end > i + 2) {
        pushText();
        out.push({ type: 'strong', children: parseInline(s.slice(i + 2, end), depth + 1) });
        i = end + 2;
        continue;
      }
    }
    if (depth < 6 && (c === '*' || c === '_') && s[i + 1] !== c && s[i + 1] !== ' ' && s[i + 1] !== undefined) {
      // `_` only at a word boundary (snake_case names stay as they are)
      const prev = s[i - 1];
      if (c === '*' || prev === undefined || /[\s(["']/.test(prev)) {
        let end = findNear(s, c, i + 1);
        while (end > 0 && c === '_' && /\w/.test(s[end + 1] ?? '')) end = end - i > REACH ? -1 : findNear(s, c, end + 1);
        if (end > i + 1 && s[end - 1] !== ' ') {
          pushText();
          out.push({ type: 'em', children: parseInline(s.slice(i + 1, end), depth + 1) });
          i = end + 1;
          continue;
        }
      }
    }
    if (c === '[' && depth < 6) {
      const close = findClosingBracket(s, i);
      if (close > 0 && s[close + 1] === '(') {
        const endParen = findNear(s, ')', close + 2);
        if (endParen > 0) {
          const target = safeLinkTarget(s.slice(close + 2, endParen).split(/\s+/)[0] ?? '');
          const label = parseInline(s.slice(i + 1, close), depth + 1);
          pushText();
          if (target !== null) out.push({ type: 'link', href: target, children: label });
          else out.push(...label);
          i = endParen + 1;
          continue;
        }
      }
    }
    text += c;
    i++;
  }
  pushText();
  return out;
}

/** @param {string} s @param {number} open */
function findClosingBracket(s, open) {
  let depth = 0;
  for (let k = open; k < s.length && k - open < REACH; k++) {
    if (s[k] === '\\') k++;
    else if (s[k] === '[') depth++;
    else if (s[k] === ']' && --depth === 0) return k;
  }
  return -1;
}
