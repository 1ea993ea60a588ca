/**
 * What the fake model does, decided purely from the conversation it is sent: a scenario is a list of
 * actions (write a file, edit a file, run a shell command) followed by a final answer, or an error.
 * The server is stateless per conversation: the number of tool results since the last user prompt
 * says which action comes next, so a resumed session (a new prompt appended) starts its scenario
 * from the top. The scenario is chosen by a `[fake:<name>]` tag in that last prompt.
 */

export type FakeAction =
  | { kind: 'write'; path: string; content: string }
  | { kind: 'edit'; path: string; old: string; new: string }
  | { kind: 'shell'; command: string };

export interface FakeError {
  status: 401 | 403 | 429 | 500 | 503;
  message?: string;
  /** Seconds in the Retry-After header (default 1: the CLIs' own retries stay fast). */
  retryAfterSec?: number;
  /** 429: "try again in N seconds" in the message (default 120): the reset the runner parks the job until. */
  resetInSec?: number;
  /** Fail only the first `times` agent requests of this scenario, then behave normally. */
  times?: number;
}

export interface FakeScenario {
  actions?: FakeAction[];
  /** The final answer (default "Done."). */
  final?: string;
  error?: FakeError;
  /** Send the response headers (and nothing else), then hang until the client goes away. */
  stall?: boolean;
}

/** A tool the request offers, with the property names of its parameters schema. */
export interface ToolSpec {
  name: string;
  properties: Record<string, { type?: string }>;
  required: string[];
}

/** The facts every protocol module extracts from a request. */
export interface Conversation {
  tools: ToolSpec[];
  /** Text of the last user message that is not a tool result. */
  lastPrompt: string;
  /** User prompts in the conversation (a resumed session has more than one). */
  prompts: number;
  /** Tool results after that message. */
  toolResultsSincePrompt: number;
  /** The agent's working directory, when its system prompt says it. */
  cwd: string | null;
}

/** One concrete step of the reply: a tool call (by the CLI's own tool name) or the final text. */
export type Reply = { type: 'tool'; name: string; input: Record<string, unknown> } | { type: 'text'; text: string };

const TAG_RE = /\[fake:([A-Za-z0-9_-]+)\]/g;

/** The first tag wins: the step's own prompt comes before its context and inputs. */
export function scenarioName(prompt: string, fallback: string): string {
  for (const m of prompt.matchAll(TAG_RE)) return m[1] ?? fallback;
  return fallback;
}

const PATH_KEYS = ['file_path', 'filePath', 'path', 'absolute_path', 'target_file'];
const CONTENT_KEYS = ['content', 'file_text', 'text'];
const OLD_KEYS = ['old_string', 'oldString', 'old_str'];
const NEW_KEYS = ['new_string', 'newString', 'new_str'];
const COMMAND_KEYS = ['command', 'cmd'];

const WRITE_TOOLS = /^(write|write_file|create)$/i;
const EDIT_TOOLS = /^(edit|replace|str_replace)$/i;
const READ_TOOLS = /^(read|read_file|view_file)$/i;
const SHELL_TOOLS = /^(bash|shell|exec_command|execute|run_shell_command)$/i;

function key(tool: ToolSpec, candidates: string[]): string | undefined {
  return candidates.find((k) => Object.hasOwn(tool.properties, k));
}

function find(conv: Conversation, re: RegExp, needs: string[][]): ToolSpec | undefined {
  return conv.tools.find((t) => re.test(t.name) && needs.every((c) => key(t, c) !== undefined));
}

function absolute(conv: Conversation, p: string): string {
  return conv.cwd && !p.startsWith('/') ? `${conv.cwd.replace(/\/+$/, '')}/${p}` : p;
}

/** Required parameters we know nothing about get a harmless value (opencode's bash wants a description). */
function fill(tool: ToolSpec, input: Record<string, unknown>): Record<string, unknown> {
  for (const r of tool.required) {
    if (input[r] !== undefined) continue;
    const type = tool.properties[r]?.type;
    if (type === 'string' || type === undefined) input[r] = 'fake model step';
    else if (type === 'boolean') input[r] = false;
  }
  return input;
}

function shellReply(conv: Conversation, command: string): Reply[] {
  const tool = find(conv, SHELL_TOOLS, [COMMAND_KEYS]);
  if (!tool) return [];
  const k = key(tool, COMMAND_KEYS)!;
  const value = tool.properties[k]?.type === 'array' ? ['bash', '-lc', command] : command;
  return [{ type: 'tool', name: tool.name, input: fill(tool, { [k]: value }) }];
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** The replies one action becomes with the tools this CLI offers (file tools first, else the shell). */
export function expandAction(conv: Conversation, action: FakeAction): Reply[] {
  if (action.kind === 'shell') return shellReply(conv, action.command);
  const file = absolute(conv, action.path);
  if (action.kind === 'write') {
    const tool = find(conv, WRITE_TOOLS, [PATH_KEYS, CONTENT_KEYS]);
    if (tool) return [{ type: 'tool', name: tool.name, input: fill(tool, { [key(tool, PATH_KEYS)!]: file, [key(tool, CONTENT_KEYS)!]: action.content }) }];
    const dir = action.path.includes('/') ? `mkdir -p '${action.path.slice(0, action.path.lastIndexOf('/'))}' && ` : '';
    return shellReply(conv, `${dir}echo ${b64(action.content)} | base64 -d > '${action.path}'`);
  }
  const tool = find(conv, EDIT_TOOLS, [PATH_KEYS, OLD_KEYS, NEW_KEYS]);
  if (tool) {
    // claude and opencode refuse to edit a file they have not read in this session
    const read = find(conv, READ_TOOLS, [PATH_KEYS]);
    const readReply: Reply[] = read ? [{ type: 'tool', name: read.name, input: fill(read, { [key(read, PATH_KEYS)!]: file }) }] : [];
    return [...readReply, { type: 'tool', name: tool.name, input: fill(tool, { [key(tool, PATH_KEYS)!]: file, [key(tool, OLD_KEYS)!]: action.old, [key(tool, NEW_KEYS)!]: action.new }) }];
  }
  const args = b64(JSON.stringify([action.path, action.old, action.new]));
  return shellReply(conv, `node -e 'const fs=require("fs");const a=JSON.parse(Buffer.from(process.argv[1],"base64"));fs.writeFileSync(a[0],fs.readFileSync(a[0],"utf8").replace(a[1],a[2]))' ${args}`);
}

/** The next reply for this conversation. A request that offers no tools (titles, summaries) gets text. */
export function nextReply(conv: Conversation, scenario: FakeScenario): Reply {
  const final: Reply = { type: 'text', text: scenario.final ?? 'Done.' };
  if (conv.tools.length === 0) return final;
  const replies = (scenario.actions ?? []).flatMap((a) => expandAction(conv, a));
  return replies[conv.toolResultsSincePrompt] ?? final;
}

/** Tokens reported for a response: fixed and small, so tests can sum them exactly. */
export const USAGE = { input: 1000, output: 50 } as const;
