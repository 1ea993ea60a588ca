/**
 * Codex CLI, headless: `codex exec --json ... PROMPT`. The flag set below is what stops all outside
 * traffic (update check, analytics, feedback, plugins) and lets it write without its own sandbox,
 * which fails under a per-job CODEX_HOME. Resume is `codex exec resume <thread_id> ... PROMPT`
 * with the same flags repeated (they are global in codex's clap definition).
 */
import type { AgentAdapter, AgentInvocation, InvocationContext } from '../types.ts';
import { createCodexParser } from './codex-parser.ts';

const HEADLESS_FLAGS = [
  '--json',
  '--skip-git-repo-check',
  '--dangerously-bypass-approvals-and-sandbox',
  '--disable',
  'plugins',
  '-c',
  'check_for_update_on_startup=false',
  '-c',
  'analytics.enabled=false',
  '-c',
  'feedback.enabled=false',
];

export function buildCodexInvocation(ctx: InvocationContext): AgentInvocation {
  const head = ctx.resumeSessionId ? ['exec', 'resume', ctx.resumeSessionId] : ['exec'];
  const model = ctx.step.model ? ['-m', ctx.step.model] : [];
  return {
    file: 'codex',
    args: [...head, ...HEADLESS_FLAGS, ...model, ctx.prompt],
    env: { CODEX_HOME: ctx.agentHome },
  };
}

export const codexAdapter: AgentAdapter = {
  name: 'codex',
  binary: 'codex',
  buildInvocation: buildCodexInvocation,
  createParser: createCodexParser,
};
