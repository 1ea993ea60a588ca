/**
 * The dashboard's pure parsers, under Node: report.md's Markdown subset, git's unified diff, and
 * the gist of an agent's JSON output line. They produce plain trees (the page turns them into DOM
 * with text nodes only), so raw HTML in the input comes out as text, and unsafe link targets are
 * dropped.
 */
import { describe, expect, it } from 'vitest';
import { renderJobReport } from '../../runner/report.ts';
import { diffFileName, parseDiff } from '../../ui/js/diff.js';
import { fmtAge, fmtDuration, fmtUsd } from '../../ui/js/format.js';
import { summarizeLogLine } from '../../ui/js/logline.js';
import { parseInline, parseMarkdown, safeLinkTarget, splitRow, type Block } from '../../ui/js/markdown.js';

const texts = (v: unknown): string => JSON.stringify(v);

describe('markdown', () => {
  it('parses headings, paragraphs, lists, quotes, rules and fenced code', () => {
    const md = ['# Title `x`', '', 'Some **bold** and *em* and _em_ text', 'on two lines.', '', '- one', '- two', '  continued', '', '3. three', '4. four', '', '> quoted', '', '---', '', '```ts', 'const a = "<b>";', '```'].join('\n');
    const b = parseMarkdown(md);
    expect(b.map((x) => x.type)).toEqual(['heading', 'paragraph', 'list', 'list', 'quote', 'hr', 'code']);
    expect(b[0]).toEqual({ type: 'heading', level: 1, children: [{ type: 'text', text: 'Title ' }, { type: 'code', text: 'x' }] });
    expect(b[1]).toEqual({ type: 'paragraph', children: [{ type: 'text', text: 'Some ' }, { type: 'strong', children: [{ type: 'text', text: 'bold' }] }, { type: 'text', text: ' and ' }, { type: 'em', children: [{ type: 'text', text: 'em' }] }, { type: 'text', text: ' and ' }, { type: 'em', children: [{ type: 'text', text: 'em' }] }, { type: 'text', text: ' text on two lines.' }] });
    expect(b[2]).toMatchObject({ type: 'list', ordered: false, items: [[{ type: 'text', text: 'one' }], [{ type: 'text', text: 'two continued' }]] });
    expect(b[3]).toMatchObject({ type: 'list', ordered: true, start: 3 });
    expect(b[6]).toEqual({ type: 'code', lang: 'ts', text: 'const a = "<b>";' });
  });

  it('parses GitHub tables with alignment and escaped pipes', () => {
    const b = parseMarkdown('| a | b | c |\n|:--|:-:|--:|\n| 1 | `x|y` | 3 \\| 4 |\n| short |');
    expect(b).toHaveLength(1);
    const t = b[0] as Extract<Block, { type: 'table' }>;
    expect(t.align).toEqual(['left', 'center', 'right']);
    expect(t.rows[0]?.map((c) => texts(c))).toEqual([texts([{ type: 'text', text: '1' }]), texts([{ type: 'code', text: 'x|y' }]), texts([{ type: 'text', text: '3 | 4' }])]);
    expect(t.rows[1]).toHaveLength(3); // short rows are padded to the header
    expect(splitRow('| a | b |')).toEqual(['a', 'b']);
  });

  it('renders the runner\'s own report.md: the table of steps, the summary block', () => {
    const job = { job_id: 'job-00000001', goal: 'Do <the> thing', source: { type: 'manual' }, steps: [] } as never;
    const state = { queue_state: 'done', waiting: null, approvals: [] } as never;
    const result = { status: 'success', started_at: null, finished_at: null, change_status: 'unchanged', secrets_check: 'passed', summary: 'All <good>', error: null, metrics: { duration_ms: 10, cost_usd: 0.01, tokens_in: 1, tokens_out: 2 }, steps: [{ step_id: 's1', agent: 'claude', role: 'implementer', status: 'success', attempts: 1, duration_ms: 5, cost_usd: 0.01 }] } as never;
    const blocks = parseMarkdown(renderJobReport(job, state, result));
    const types = blocks.map((x) => x.type);
    expect(types[0]).toBe('heading');
    expect(types.filter((x) => x === 'table')).toHaveLength(2);
    expect(blocks.find((x) => x.type === 'code')).toMatchObject({ text: 'All <good>' });
    expect(texts(blocks)).toContain('Do <the> thing'); // raw HTML stays text
  });

  it('keeps raw HTML as text and drops unsafe link targets', () => {
    expect(parseInline('<script>alert(1)</script>')).toEqual([{ type: 'text', text: '<script>alert(1)</script>' }]);
    expect(parseInline('[x](javascript:alert`1`)')).toEqual([{ type: 'text', text: 'x' }]);
    expect(parseInline('[x](https://example.com/a)')).toEqual([{ type: 'link', href: 'https://example.com/a', children: [{ type: 'text', text: 'x' }] }]);
    for (const bad of ['javascript:alert(1)', 'JaVaScRiPt:x', 'data:text/html,<b>', '//evil.example', 'vbscript:x']) expect(safeLinkTarget(bad), bad).toBeNull();
    expect(parseInline('snake_case_name and 2*3*4')).toEqual([{ type: 'text', text: 'snake_case_name and 2' }, { type: 'em', children: [{ type: 'text', text: '3' }] }, { type: 'text', text: '4' }]);
  });

  it('survives hostile input: unclosed fences and emphasis, deep quotes, long lines', () => {
    expect(() => parseMarkdown('```\nnever closed')).not.toThrow();
    expect(parseMarkdown('**not closed')[0]).toEqual({ type: 'paragraph', children: [{ type: 'text', text: '**not closed' }] });
    expect(() => parseMarkdown('>'.repeat(5000) + ' deep')).not.toThrow();
    const t = Date.now();
    for (const hostile of ['['.repeat(50_000) + ']', '**'.repeat(50_000), '`'.repeat(3) + ' `'.repeat(50_000), '_a'.repeat(50_000), '*'.repeat(100_000)]) parseInline(hostile);
    parseMarkdown(('word *x* `y` **z** '.repeat(2000) + '\n').repeat(50));
    expect(Date.now() - t).toBeLessThan(3000); // linear, not quadratic (quadratic is minutes)
  });
});

describe('diff', () => {
  const patch = [
    'diff --git a/src/a.ts b/src/a.ts',
    'index 1111111..2222222 100644',
    '--- a/src/a.ts',
    '+++ b/src/a.ts',
    '@@ -1,4 +1,4 @@ function f() {',
    ' one',
    '-two',
    '+TWO',
    '--- not a header, a removed line',
    ' three',
    'diff --git a/new.md b/new.md',
    'new file mode 100644',
    'index 0000000..3333333',
    '--- /dev/null',
    '+++ b/new.md',
    '@@ -0,0 +1,2 @@',
    '+<script>x</script>',
    '+last',
    '\\ No newline at end of file',
    'diff --git a/old.txt b/renamed.txt',
    'similarity index 100%',
    'rename from old.txt',
    'rename to renamed.txt',
    'diff --git a/img.png b/img.png',
    'Binary files a/img.png and b/img.png differ',
    '',
  ].join('\n');

  it('splits files, hunks and numbered lines; a "---" inside a hunk is a removed line', () => {
    const files = parseDiff(patch);
    expect(files.map((f) => [diffFileName(f), f.status, f.additions, f.deletions])).toEqual([
      ['src/a.ts', 'modified', 1, 2],
      ['new.md', 'added', 2, 0],
      ['old.txt → renamed.txt', 'renamed', 0, 0],
      ['img.png', 'binary', 0, 0],
    ]);
    const lines = files[0]?.hunks[0]?.lines ?? [];
    expect(lines.map((l) => [l.type, l.oldNo, l.newNo, l.text])).toEqual([
      ['ctx', 1, 1, 'one'],
      ['del', 2, null, 'two'],
      ['add', null, 2, 'TWO'],
      ['del', 3, null, '-- not a header, a removed line'],
      ['ctx', 4, 3, 'three'],
    ]);
    expect(files[1]?.hunks[0]?.lines.map((l) => l.type)).toEqual(['add', 'add', 'note']);
    expect(files[1]?.hunks[0]?.lines[0]?.text).toBe('<script>x</script>');
  });

  it('reads a plain unified diff (no git header) and an empty one', () => {
    const files = parseDiff('--- a.txt\n+++ b.txt\n@@ -1 +1 @@\n-a\n+b\n--- c.txt\n+++ c.txt\n@@ -1 +1 @@\n-c\n+d\n');
    expect(files.map((f) => [f.newPath, f.additions, f.deletions])).toEqual([['b.txt', 1, 1], ['c.txt', 1, 1]]);
    expect(parseDiff('')).toEqual([]);
  });
});

describe('log lines', () => {
  it('gives the gist of each agent CLI\'s JSON events', () => {
    expect(summarizeLogLine(JSON.stringify({ type: 'assistant', message: { content: [{ type: 'text', text: 'Hello there' }] } }))).toEqual({ kind: 'assistant', text: 'Hello there', json: true });
    expect(summarizeLogLine(JSON.stringify({ type: 'assistant', message: { content: [{ type: 'tool_use', name: 'Write', input: { file_path: 'a.md', content: 'x' } }] } })).text).toBe('Write a.md — x');
    expect(summarizeLogLine(JSON.stringify({ type: 'item.completed', item: { type: 'agent_message', text: 'done' } }))).toEqual({ kind: 'item.completed · agent_message', text: 'done', json: true });
    expect(summarizeLogLine(JSON.stringify({ type: 'item.completed', item: { type: 'file_change', changes: [{ path: '/w/a.ts', kind: 'add' }] } })).text).toBe('/w/a.ts');
    expect(summarizeLogLine(JSON.stringify({ type: 'turn.completed', usage: { input_tokens: 3 } })).text).toBe('');
    expect(summarizeLogLine('plain <b>text</b>')).toEqual({ kind: '', text: 'plain <b>text</b>', json: false });
    expect(summarizeLogLine('{not json')).toMatchObject({ json: false });
  });
});

describe('format', () => {
  it('formats durations, ages and money', () => {
    expect([fmtDuration(450), fmtDuration(1500), fmtDuration(125_000), fmtDuration(7_500_000)]).toEqual(['450 ms', '1.5 s', '2 min 5 s', '2 h 5 min']);
    expect(fmtAge(Date.now() - 90_000, Date.now())).toBe('1 min ago');
    expect([fmtUsd(0), fmtUsd(0.0012), fmtUsd(1.5), fmtUsd(null)]).toEqual(['$0', '$0.0012', '$1.50', '—']);
  });
});
