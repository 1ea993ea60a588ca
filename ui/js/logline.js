// @ts-check
/**
 * One agent output line made readable. The agent CLIs print JSON events (Claude Code's
 * stream-json, Codex's items, OpenCode's parts, Droid's and Gemini's messages); the log view
 * shows each as "kind · the words that matter" (the text, the thinking, the tool and its file),
 * with the raw line one click away. Lines that are not JSON are shown as they are. Pure (tested
 * under Node): it only reads strings out of the parsed object, whatever their shape.
 */

const TEXT_KEYS = ['text', 'thinking', 'result', 'finalText', 'content', 'message', 'output', 'error', 'title', 'description'];
const TOOL_KEYS = ['name', 'tool', 'tool_name', 'toolName'];
const PATH_KEYS = ['file_path', 'filePath', 'path', 'command', 'cmd'];

/** @param {unknown} v @returns {v is Record<string, unknown>} */
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The first string under one of `keys`, breadth first, at most `maxNodes` nodes visited.
 * @param {unknown} root
 * @param {string[]} keys
 * @param {number} [maxNodes]
 * @returns {string | null}
 */
function findString(root, keys, maxNodes = 400) {
  /** @type {unknown[]} */
  const queue = [root];
  let seen = 0;
  while (queue.length && seen++ < maxNodes) {
    const v = queue.shift();
    if (Array.isArray(v)) queue.push(...v);
    else if (isObj(v)) {
      for (const k of keys) {
        const x = v[k];
        if (typeof x === 'string' && x.trim()) return x;
        if (Array.isArray(x) && x.every((s) => typeof s === 'string') && x.length) return x.join(' ');
      }
      for (const x of Object.values(v)) if (x !== null && typeof x === 'object') queue.push(x);
    }
  }
  return null;
}

/**
 * @param {string} line
 * @returns {{kind: string, text: string, json: boolean}}
 */
export function summarizeLogLine(line) {
  const t = line.trim();
  if (!t.startsWith('{') || !t.endsWith('}')) return { kind: '', text: line, json: false };
  /** @type {unknown} */
  let v;
  try {
    v = JSON.parse(t);
  } catch {
    return { kind: '', text: line, json: false };
  }
  if (!isObj(v)) return { kind: '', text: line, json: false };
  const inner = [v.subtype, isObj(v.item) ? v.item.type : undefined, isObj(v.part) ? v.part.type : undefined, v.role].find((x) => typeof x === 'string');
  const kind = [typeof v.type === 'string' ? v.type : 'event', typeof inner === 'string' && inner !== v.type ? inner : null].filter(Boolean).join(' · ');
  const tool = findString(v, TOOL_KEYS);
  const isTool = /tool/i.test(t.slice(0, 400)) && tool !== null;
  const target = isTool ? findString(v, PATH_KEYS) : null;
  const text = findString(v, TEXT_KEYS);
  /** @type {string[]} */
  const parts = [];
  if (isTool) parts.push(`${tool}${target ? ` ${target}` : ''}`);
  if (text && !(isTool && text === target)) parts.push(text);
  if (parts.length === 0) {
    const target2 = findString(v, PATH_KEYS);
    if (target2) parts.push(target2);
  }
  if (parts.length === 0) {
    // no words: show the scalar fields, the way a person would skim them
    const scalars = Object.entries(v)
      .filter(([k, x]) => k !== 'type' && (typeof x === 'number' || typeof x === 'boolean' || (typeof x === 'string' && x.length < 80)))
      .slice(0, 6)
      .map(([k, x]) => `${k}=${String(x)}`);
    parts.push(scalars.join(' '));
  }
  return { kind, text: parts.join(' — ').replace(/\s+/g, ' ').trim(), json: true };
}
