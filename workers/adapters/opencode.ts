/**
 * OpenCode, headless: `opencode run --format json PROMPT`. Every config/data/cache/state directory
 * is pointed into the job's private home (XDG_*), and the updater, model-list fetch, LSP downloads
 * and default plugins are off so a run touches nothing outside the job.
 */
import { join } from 'node:path';
import type { AgentAdapter, AgentInvocation, InvocationContext } from '../types.ts';
import { createOpencodeParser } from './opencode-parser.ts';

export function buildOpencodeInvocation(ctx: InvocationContext): AgentInvocation {
  const args = ['run', '--format', 'json'];
  if (ctx.resumeSessionId) args.push('--session', ctx.resumeSessionId);
  if (ctx.step.model) args.push('--model', ctx.step.model);
  args.push(ctx.prompt);
  return {
    file: 'opencode',
    args,
    env: {
      OPENCODE_DISABLE_AUTOUPDATE: '1',
      OPENCODE_DISABLE_MODELS_FETCH: '1',
      OPENCODE_DISABLE_LSP_DOWNLOAD: '1',
      OPENCODE_DISABLE_DEFAULT_PLUGINS: '1',
      XDG_CONFIG_HOME: join(ctx.agentHome, 'xdg', 'config'),
      XDG_DATA_HOME: join(ctx.agentHome, 'xdg', 'data'),
      XDG_CACHE_HOME: join(ctx.agentHome, 'xdg', 'cache'),
      XDG_STATE_HOME: join(ctx.agentHome, 'xdg', 'state'),
    },
  };
}

export const opencodeAdapter: AgentAdapter = {
  name: 'opencode',
  binary: 'opencode',
  buildInvocation: buildOpencodeInvocation,
  createParser: createOpencodeParser,
};
