/**
 * Secret detection and redaction (pure; the file side is runner/secrets-check.ts).
 *
 * Two mechanisms:
 * 1. Known values: the values of SENSITIVE_ENV_VARS and of credential-named variables are replaced
 *    in agent output as it streams in (StreamRedactor), before anything reaches a log, a parser or
 *    an event, including a value split across two chunks.
 * 2. Patterns: after each step, its artifacts are scanned with the high-precision rules below
 *    (scanText); every hit is replaced by `[REDACTED:<rule>]` (redactText).
 *
 * Precision is the point: a rule must not fire on session ids, UUIDs, hashes, commit ids, base64
 * blobs or ordinary source code. Every rule therefore anchors on a vendor prefix, a fixed
 * structure or an explicit key name, never on entropy alone. Findings carry the rule, line and
 * column, never the value.
 */

export interface SecretRule {
  id: string;
  description: string;
  /** Global regex. With `group`, only that capture is the secret (the rest is context). */
  pattern: RegExp;
  group?: number;
}

/** Values that are obviously placeholders, not credentials (for the context-anchored rules). */
const PLACEHOLDER = /^(?:\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|<[^>]*>|\{\{?[^}]*\}\}?|%s|\*+|x+|\.+|\[REDACTED[^\]]*\]|password|passwd|pass|secret|token|changeme|pwd|user|username)$/i;

/** Rules as data: order matters only for overlaps (the first rule to claim a span wins). */
export const SECRET_RULES: readonly SecretRule[] = [
  { id: 'private-key', description: 'PEM/OpenSSH private key block', pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:(?:\\+[rn]|\[stderr\] |[\sA-Za-z0-9+/=:,.-]){0,20000}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|(?:\\+[rn]|[\sA-Za-z0-9+/=])*)/g },
  { id: 'aws-access-key-id', description: 'AWS access key id', pattern: /\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b/g },
  { id: 'aws-secret-access-key', description: 'AWS secret access key (after its key name)', pattern: /\baws_?secret_?access_?key\b(?:\\*["'])?\s*[:=]\s*(?:\\*["'])?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])/gi, group: 1 },
  { id: 'github-token', description: 'GitHub token (ghp_, gho_, ghu_, ghs_, ghr_)', pattern: /\bgh[pousr]_[A-Za-z0-9]{36,255}\b/g },
  { id: 'github-fine-grained-pat', description: 'GitHub fine-grained personal access token', pattern: /\bgithub_pat_[A-Za-z0-9_]{80,255}\b/g },
  { id: 'gitlab-token', description: 'GitLab token (glpat-, gldt-, glrt-, ...)', pattern: /\bgl(?:pat|dt|rt|ptt|cbt|ft|soat|imt)-[A-Za-z0-9_-]{20,}/g },
  { id: 'slack-token', description: 'Slack token (xoxb-, xoxp-, ...)', pattern: /\bxox[abposre]-[0-9A-Za-z]+-[0-9A-Za-z-]{8,}/g },
  { id: 'slack-webhook', description: 'Slack incoming webhook URL', pattern: /https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/T[A-Z0-9]{6,}\/[A-Z0-9]{6,}\/[A-Za-z0-9]{16,}/g },
  { id: 'anthropic-api-key', description: 'Anthropic API key (sk-ant-...)', pattern: /\bsk-ant-[a-z]{2,10}\d{2}-[A-Za-z0-9_-]{20,}/g },
  { id: 'openai-api-key', description: 'OpenAI API key (sk-proj-..., sk-...T3BlbkFJ...)', pattern: /\bsk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}|[A-Za-z0-9_-]{16,}T3BlbkFJ[A-Za-z0-9_-]{16,})/g },
  { id: 'google-api-key', description: 'Google API key (AIza...)', pattern: /\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/g },
  { id: 'google-oauth-client-secret', description: 'Google OAuth client secret (GOCSPX-...)', pattern: /\bGOCSPX-[A-Za-z0-9_-]{28}(?![A-Za-z0-9_-])/g },
  { id: 'stripe-key', description: 'Stripe secret or restricted key', pattern: /\b(?:sk|rk)_(?:live|test)_[0-9a-zA-Z]{24,}\b/g },
  { id: 'npm-token', description: 'npm access token', pattern: /\bnpm_[A-Za-z0-9]{36}\b/g },
  { id: 'pypi-token', description: 'PyPI upload token', pattern: /\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}/g },
  { id: 'huggingface-token', description: 'Hugging Face access token', pattern: /\bhf_[A-Za-z0-9]{34,}\b/g },
  { id: 'sendgrid-api-key', description: 'SendGrid API key', pattern: /\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g },
  { id: 'digitalocean-token', description: 'DigitalOcean token', pattern: /\bdo[opr]_v1_[a-f0-9]{64}\b/g },
  { id: 'shopify-token', description: 'Shopify access token', pattern: /\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b/g },
  { id: 'azure-storage-key', description: 'Azure storage account key (AccountKey=...)', pattern: /\bAccountKey=([A-Za-z0-9+/]{86}==)/g, group: 1 },
  { id: 'jwt', description: 'JSON Web Token (signed)', pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/g },
  { id: 'url-credentials', description: 'password in a URL (scheme://user:password@host)', pattern: /\b[a-zA-Z][a-zA-Z0-9+.-]{1,19}:\/\/[^\s:/@"'<>\\]{1,128}:([^\s:/@"'<>\\]{3,256})@[A-Za-z0-9.-]+/g, group: 1 },
];

export interface SecretFinding {
  rule: string;
  /** 1-based. */
  line: number;
  /** 1-based, in UTF-16 code units. */
  column: number;
  /** Offset and length of the secret in the text (for redaction); never the value itself. */
  index: number;
  length: number;
}

export const REDACTION_PREFIX = '[REDACTED:';
export const marker = (rule: string): string => `${REDACTION_PREFIX}${rule}]`;

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

function locate(starts: number[], index: number): { line: number; column: number } {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= index) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: index - starts[lo]! + 1 };
}

/** Every secret the rules find in `text`, in order, overlaps resolved (first rule, then longest). */
export function scanText(text: string, rules: readonly SecretRule[] = SECRET_RULES): SecretFinding[] {
  const spans: Array<{ rule: string; index: number; length: number; order: number }> = [];
  for (const [order, rule] of rules.entries()) {
    const re = new RegExp(rule.pattern.source, rule.pattern.flags.includes('d') ? rule.pattern.flags : rule.pattern.flags + 'd');
    for (const m of text.matchAll(re)) {
      const idx = rule.group !== undefined ? m.indices?.[rule.group] : m.indices?.[0];
      if (!idx) continue;
      const value = text.slice(idx[0], idx[1]);
      if (value.length === 0 || (rule.group !== undefined && PLACEHOLDER.test(value))) continue;
      spans.push({ rule: rule.id, index: idx[0], length: idx[1] - idx[0], order });
    }
  }
  spans.sort((a, b) => a.index - b.index || a.order - b.order || b.length - a.length);
  const kept: typeof spans = [];
  let end = -1;
  for (const s of spans) {
    if (s.index < end) continue;
    kept.push(s);
    end = s.index + s.length;
  }
  if (kept.length === 0) return [];
  const starts = lineStarts(text);
  return kept.map((s) => ({ rule: s.rule, index: s.index, length: s.length, ...locate(starts, s.index) }));
}

/** Replace the spans of `findings` (from scanText on the same text) with `[REDACTED:<rule>]`. */
export function applyRedactions(text: string, findings: readonly SecretFinding[]): string {
  let out = '';
  let at = 0;
  for (const f of findings) {
    out += text.slice(at, f.index) + marker(f.rule);
    at = f.index + f.length;
  }
  return out + text.slice(at);
}

export interface KnownSecret {
  /** The variable it came from: named in the marker, never the value. */
  name: string;
  value: string;
}

/**
 * The rules for one line seen on its own (a live `agent:output` event): all but the private-key
 * block, which spans lines and is left whole for the post-step scan that sees the entire stream.
 */
export const LINE_RULES: readonly SecretRule[] = SECRET_RULES.filter((r) => r.id !== 'private-key');

/** Known values first (exact), then the pattern rules. */
export function redactText(text: string, known: readonly KnownSecret[] = [], rules: readonly SecretRule[] = SECRET_RULES): { text: string; findings: SecretFinding[] } {
  const findings: SecretFinding[] = [];
  let current = text;
  if (known.length > 0) {
    const hits = findKnown(current, known);
    if (hits.length > 0) {
      findings.push(...hits);
      current = applyRedactions(current, hits);
    }
  }
  const pattern = scanText(current, rules);
  if (pattern.length > 0) {
    findings.push(...pattern);
    current = applyRedactions(current, pattern);
  }
  return { text: current, findings };
}

/**
 * events.jsonl carries agent output one line per event, so a multi-line secret (a private key
 * block) is spread over several JSON lines that no pattern sees whole. This pass rebuilds each
 * step's output stream from its `agent:output` events, scans it, and for every finding that spans
 * more than one event replaces its part in each of them (re-serialised, still valid JSON).
 * Findings inside a single event are left to the plain pass (redactText on the file).
 */
export function redactJsonlOutput(text: string, known: readonly KnownSecret[] = []): { text: string; findings: SecretFinding[] } {
  const lines = text.split('\n');
  type Seg = { lineNo: number; event: { data: { line: string; step_id?: unknown; stream?: unknown } } & Record<string, unknown>; value: string };
  const streams = new Map<string, Seg[]>();
  for (const [lineNo, raw] of lines.entries()) {
    if (!raw.includes('"agent:output"')) continue;
    let ev: unknown;
    try {
      ev = JSON.parse(raw);
    } catch {
      continue;
    }
    const e = ev as { type?: unknown; data?: { line?: unknown; step_id?: unknown; stream?: unknown } };
    if (e.type !== 'agent:output' || typeof e.data?.line !== 'string') continue;
    const key = `${String(e.data.step_id)}\0${String(e.data.stream)}`;
    const list = streams.get(key) ?? [];
    list.push({ lineNo, event: ev as Seg['event'], value: e.data.line });
    streams.set(key, list);
  }
  const findings: SecretFinding[] = [];
  const changed = new Map<number, Seg>();
  for (const segs of streams.values()) {
    const starts: number[] = [];
    let virtual = '';
    for (const s of segs) {
      starts.push(virtual.length);
      virtual += s.value + '\n';
    }
    const hits = [...findKnown(virtual, known), ...scanText(virtual)];
    for (const h of hits) {
      const first = starts.findLastIndex((st) => st <= h.index);
      const end = h.index + h.length;
      let last = first;
      while (last + 1 < segs.length && starts[last + 1]! < end) last++;
      if (last === first) continue; // inside one event: the plain pass handles it
      findings.push({ ...h, line: segs[first]!.lineNo + 1, column: 1 });
      for (let i = first; i <= last; i++) {
        const seg = segs[i]!;
        const from = Math.max(0, h.index - starts[i]!);
        const to = Math.min(seg.value.length, end - starts[i]!);
        if (to <= from) continue;
        seg.value = seg.value.slice(0, from) + marker(h.rule) + seg.value.slice(to);
        changed.set(seg.lineNo, seg);
      }
    }
  }
  if (changed.size === 0) return { text, findings: [] };
  for (const [lineNo, seg] of changed) lines[lineNo] = JSON.stringify({ ...seg.event, data: { ...seg.event.data, line: seg.value } });
  return { text: lines.join('\n'), findings };
}

/** Occurrences of known values (longest first, non-overlapping), as findings with rule `env:<NAME>`. */
export function findKnown(text: string, known: readonly KnownSecret[]): SecretFinding[] {
  const sorted = [...known].filter((k) => k.value.length > 0).sort((a, b) => b.value.length - a.value.length);
  const spans: Array<{ rule: string; index: number; length: number }> = [];
  const taken = (i: number, len: number): boolean => spans.some((s) => i < s.index + s.length && s.index < i + len);
  for (const k of sorted) {
    for (let i = text.indexOf(k.value); i !== -1; i = text.indexOf(k.value, i + k.value.length)) {
      if (!taken(i, k.value.length)) spans.push({ rule: `env:${k.name}`, index: i, length: k.value.length });
    }
  }
  if (spans.length === 0) return [];
  spans.sort((a, b) => a.index - b.index);
  const starts = lineStarts(text);
  return spans.map((s) => ({ ...s, ...locate(starts, s.index) }));
}

// ---------------------------------------------------------------------------------------------
// Known values from the environment

/** Always treated as sensitive, on top of SENSITIVE_ENV_VARS. */
export const DEFAULT_SENSITIVE_ENV_VARS = [
  'ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN', 'OPENAI_API_KEY', 'CODEX_API_KEY', 'GEMINI_API_KEY',
  'GOOGLE_API_KEY', 'FACTORY_API_KEY', 'OPENROUTER_API_KEY', 'GITHUB_TOKEN', 'GH_TOKEN', 'GITLAB_TOKEN', 'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN', 'WEBHOOK_TOKEN', 'WEBHOOK_TOKENS', 'WEBHOOK_SECRET', 'CALLBACK_SECRET',
] as const;

/** Names that hold credentials by convention (…_API_KEY, …_TOKEN, …_SECRET, …_PASSWORD, …). */
export const CREDENTIAL_NAME = /(?:^|_)(?:API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|KEY|TOKENS?|SECRETS?|PASSWORD|PASSWD|PASS|CREDENTIALS?|AUTH|COOKIE|PAT)(?:$|_)/i;
const NOT_CREDENTIALS = new Set(['PWD', 'OLDPWD', 'SSH_AUTH_SOCK', 'GPG_AGENT_INFO', 'KEYTIMEOUT']);

/** Values shorter than this are not redacted (they would turn common words into markers). */
export const MIN_SECRET_LENGTH = 8;

/**
 * The values to redact from an agent's output: SENSITIVE_ENV_VARS (and the defaults) wherever they
 * are set, plus every credential-named variable of the runner's and the agent's environment
 * (an agent runs arbitrary code and may read its parent's environment).
 */
export function sensitiveValues(names: readonly string[], ...envs: Array<Record<string, string | undefined>>): KnownSecret[] {
  const wanted = new Set([...DEFAULT_SENSITIVE_ENV_VARS, ...names]);
  const out = new Map<string, KnownSecret>();
  const add = (name: string, value: string | undefined): void => {
    if (value === undefined || value.length < MIN_SECRET_LENGTH || out.has(value)) return;
    out.set(value, { name, value });
    const escaped = JSON.stringify(value).slice(1, -1);
    if (escaped !== value && !out.has(escaped)) out.set(escaped, { name, value: escaped });
  };
  for (const env of envs) {
    for (const [k, v] of Object.entries(env)) {
      if (wanted.has(k) || (CREDENTIAL_NAME.test(k) && !NOT_CREDENTIALS.has(k) && !k.startsWith('ORCH_'))) add(k, v);
    }
  }
  return [...out.values()];
}

// ---------------------------------------------------------------------------------------------
// Streaming

/**
 * Redacts known values from a stream of text chunks. It holds back only the longest tail of what it
 * has seen that could still be the start of a value (at most maxLen − 1 characters), so a value
 * split across chunks is caught while ordinary output (ending in a newline) flows at once.
 */
export class StreamRedactor {
  private tail = '';
  private readonly values: KnownSecret[];
  private hitCount = 0;

  constructor(known: readonly KnownSecret[]) {
    this.values = [...known].filter((k) => k.value.length > 0).sort((a, b) => b.value.length - a.value.length);
  }

  get hits(): number {
    return this.hitCount;
  }

  push(chunk: string): string {
    if (this.values.length === 0) return chunk;
    const text = this.tail + chunk;
    let cut = text.length - this.pendingPrefix(text);
    const found = findKnown(text, this.values);
    // never cut through a complete value: keep it whole for the next call
    for (const f of found) if (f.index < cut && f.index + f.length > cut) cut = f.index;
    const done = found.filter((f) => f.index + f.length <= cut);
    this.hitCount += done.length;
    this.tail = text.slice(cut);
    return applyRedactions(text.slice(0, cut), done);
  }

  /** The rest, at the end of the stream. */
  end(): string {
    const found = findKnown(this.tail, this.values);
    this.hitCount += found.length;
    const out = applyRedactions(this.tail, found);
    this.tail = '';
    return out;
  }

  /** Length of the longest suffix of `text` that is a proper prefix of a value. */
  private pendingPrefix(text: string): number {
    let best = 0;
    const len = text.length;
    for (const { value } of this.values) {
      const first = value.charCodeAt(0);
      for (let k = Math.min(value.length - 1, len); k > best; k--) {
        if (text.charCodeAt(len - k) === first && text.endsWith(value.slice(0, k))) {
          best = k;
          break;
        }
      }
    }
    return best;
  }
}
