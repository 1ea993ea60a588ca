// @ts-check
/**
 * A unified diff (git's `patch.diff`) parsed into files, hunks and numbered lines, for a readable
 * side-by-side-numbered view. Text in, plain objects out (render.js builds the DOM with
 * textContent), pure so it is tested under Node too. Anything it does not recognise is kept as a
 * `meta` line of the current file rather than dropped.
 */

/**
 * @typedef {{type: 'add' | 'del' | 'ctx' | 'note', text: string, oldNo: number | null, newNo: number | null}} DiffLine
 * @typedef {{header: string, lines: DiffLine[]}} Hunk
 * @typedef {{oldPath: string | null, newPath: string | null, status: 'added' | 'deleted' | 'modified' | 'renamed' | 'binary', meta: string[], hunks: Hunk[], additions: number, deletions: number}} DiffFile
 */

/** `a/x` → `x`; `/dev/null` → null; a quoted git path keeps its escapes. @param {string} p */
function stripPrefix(p) {
  let s = p.trim().replace(/\t.*$/, '');
  if (s === '/dev/null') return null;
  if (s.startsWith('"') && s.endsWith('"')) s = s.slice(1, -1);
  return s.replace(/^[ab]\//, '');
}

/** @param {string} line */
function gitHeaderPaths(line) {
  const rest = line.slice('diff --git '.length);
  const m = /^(?:"?a\/(.*?)"?) (?:"?b\/(.*?)"?)$/.exec(rest);
  if (m) return { oldPath: m[1] ?? null, newPath: m[2] ?? null };
  return { oldPath: null, newPath: null };
}

/**
 * @param {string} text
 * @returns {DiffFile[]}
 */
export function parseDiff(text) {
  /** @type {DiffFile[]} */
  const files = [];
  /** @type {DiffFile | null} */
  let file = null;
  /** @type {Hunk | null} */
  let hunk = null;
  let oldNo = 0;
  let newNo = 0;
  // lines the hunk header announced and that have not been seen yet: a hunk ends when both are 0
  let oldLeft = 0;
  let newLeft = 0;
  /** @returns {DiffFile} */
  const newFile = () => {
    const f = /** @type {DiffFile} */ ({ oldPath: null, newPath: null, status: 'modified', meta: [], hunks: [], additions: 0, deletions: 0 });
    files.push(f);
    hunk = null;
    return f;
  };
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.startsWith('diff --git ')) {
      file = newFile();
      Object.assign(file, gitHeaderPaths(line));
      continue;
    }
    const inHunk = hunk !== null && (oldLeft > 0 || newLeft > 0);
    if (hunk && file && (line.startsWith('\\') || (inHunk && (line.startsWith('+') || line.startsWith('-') || line.startsWith(' ') || line === '')))) {
      // inside a hunk: a "--- " line is a removed line, not a new file header
      if (line.startsWith('+')) {
        hunk.lines.push({ type: 'add', text: line.slice(1), oldNo: null, newNo: newNo++ });
        file.additions++;
        newLeft--;
      } else if (line.startsWith('-')) {
        hunk.lines.push({ type: 'del', text: line.slice(1), oldNo: oldNo++, newNo: null });
        file.deletions++;
        oldLeft--;
      } else if (line.startsWith('\\')) {
        hunk.lines.push({ type: 'note', text: line.slice(1).trim(), oldNo: null, newNo: null });
      } else {
        hunk.lines.push({ type: 'ctx', text: line.slice(1), oldNo: oldNo++, newNo: newNo++ });
        oldLeft--;
        newLeft--;
      }
      continue;
    }
    const hm = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$/.exec(line);
    if (hm) {
      file ??= newFile();
      oldNo = Number(hm[1]);
      oldLeft = hm[2] === undefined ? 1 : Number(hm[2]);
      newNo = Number(hm[3]);
      newLeft = hm[4] === undefined ? 1 : Number(hm[4]);
      hunk = { header: line, lines: [] };
      file.hunks.push(hunk);
      continue;
    }
    if (line.startsWith('--- ') && (lines[i + 1] ?? '').startsWith('+++ ')) {
      if (!file || file.hunks.length > 0) file = newFile();
      const o = stripPrefix(line.slice(4));
      const n = stripPrefix((lines[i + 1] ?? '').slice(4));
      file.oldPath = o;
      file.newPath = n;
      if (o === null) file.status = 'added';
      else if (n === null) file.status = 'deleted';
      i++;
      hunk = null;
      continue;
    }
    file ??= newFile();
    hunk = null;
    file.meta.push(line);
    if (line.startsWith('new file mode')) file.status = 'added';
    else if (line.startsWith('deleted file mode')) file.status = 'deleted';
    else if (line.startsWith('rename from ')) {
      file.status = 'renamed';
      file.oldPath = line.slice('rename from '.length);
    } else if (line.startsWith('rename to ')) {
      file.status = 'renamed';
      file.newPath = line.slice('rename to '.length);
    } else if (line.startsWith('Binary files ') || line === 'GIT binary patch') file.status = 'binary';
  }
  return files;
}

/** The name to show for a file of a diff. @param {DiffFile} f */
export function diffFileName(f) {
  if (f.status === 'renamed' && f.oldPath && f.newPath && f.oldPath !== f.newPath) return `${f.oldPath} → ${f.newPath}`;
  return f.newPath ?? f.oldPath ?? '(unknown file)';
}
