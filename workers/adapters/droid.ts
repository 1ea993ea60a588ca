/**
 * Factory Droid, headless: `droid exec -o stream-json --skip-permissions-unsafe PROMPT`, with its
 * home (settings.json, customModels) redirected into the job by FACTORY_HOME_OVERRIDE. Custom
 * models are named `custom:<model>`; step.model is passed through as written. Note: resuming
 * (`-s <id>`) fetches the session from Factory's servers and fails offline.
 */
import type { AgentAdapter, AgentHomeSetup, AgentInvocation, InvocationContext, OperatorEnv } from '../types.ts';
import { createDroidParser } from './droid-parser.ts';
import { first, pick, withV1 } from './pass-env.ts';

/** DROID_BASE_URL + DROID_API_KEY (+ DROID_MODEL, DROID_PROVIDER) define a custom model; FACTORY_API_KEY is Factory's own login. */
export const DROID_PASS_ENV = ['DROID_BASE_URL', 'DROID_API_KEY', 'DROID_MODEL', 'DROID_PROVIDER', 'FACTORY_API_KEY'] as const;

/**
 * FACTORY_HOME_OVERRIDE/.factory/settings.json with one custom model (droid has no way to read its
 * key from the environment, so the file is written 0600 inside the job's private home; the value
 * is redacted from all output). Models are then addressed as `custom:<model>`.
 */
export function prepareDroidHome(ctx: InvocationContext, env: OperatorEnv): AgentHomeSetup {
  const base = first(env, 'DROID_BASE_URL');
  // no auto-update, no OpenTelemetry export; with a custom model also airgap mode, which stops its
  // ~10 calls to Factory's servers per run (checked with strace: then only the model endpoint)
  const quiet = { FACTORY_DROID_AUTO_UPDATE_ENABLED: 'false', FACTORY_OTEL_ENABLED: 'false', FACTORY_DISABLE_KEYRING: '1' };
  const passed = { ...pick(env, ['FACTORY_API_KEY', 'DROID_API_KEY']), ...quiet };
  if (!base) return { files: [], env: passed, ...(ctx.step.model ? { model: ctx.step.model } : {}) };
  const provider = first(env, 'DROID_PROVIDER') ?? 'generic-chat-completion-api';
  const id = (ctx.step.model ?? first(env, 'DROID_MODEL') ?? 'default').replace(/^custom:/, '');
  const customModel = { model: id, displayName: id, baseUrl: provider === 'anthropic' ? base : withV1(base), apiKey: env.DROID_API_KEY ?? '', provider, maxOutputTokens: 8192 };
  return { files: [{ path: '.factory/settings.json', content: JSON.stringify({ customModels: [customModel] }, null, 2) + '\n', mode: 0o600 }], env: { ...passed, FACTORY_AIRGAP_ENABLED: 'true', FACTORY_DISABLE_DYNAMIC_CONFIG: '1' }, model: `custom:${id}` };
}

export function buildDroidInvocation(ctx: InvocationContext): AgentInvocation {
  const args = ['exec', '-o', 'stream-json', '--skip-permissions-unsafe'];
  // the step's tools, enforced by droid itself: the others are not offered to the model
  if (ctx.step.allowed_tools.length > 0) args.push('--only-tools', ctx.step.allowed_tools.join(','));
  if (ctx.step.model) args.push('-m', ctx.step.model);
  if (ctx.resumeSessionId) args.push('-s', ctx.resumeSessionId);
  args.push(ctx.prompt);
  return { file: 'droid', args, env: { FACTORY_HOME_OVERRIDE: ctx.agentHome } };
}

export const droidAdapter: AgentAdapter = {
  name: 'droid',
  binary: 'droid',
  passEnv: DROID_PASS_ENV,
  enforcesAllowedTools: true,
  buildInvocation: buildDroidInvocation,
  prepareHome: prepareDroidHome,
  modelEndpoint: (env: OperatorEnv) => first(env, 'DROID_BASE_URL') ?? null,
  createParser: createDroidParser,
};
