/** Each adapter's prepareHome: the CLI's own config and the env that points it at the operator's endpoint (pure). */
import { describe, expect, it } from 'vitest';
import { ADAPTERS, getAdapter } from '../../workers/registry.ts';
import { makeCtx } from '../helpers/workers-context.ts';

const ENV = {
  ANTHROPIC_BASE_URL: 'http://127.0.0.1:4010',
  ANTHROPIC_API_KEY: 'sk-ant-x',
  CODEX_BASE_URL: 'http://127.0.0.1:4010',
  CODEX_API_KEY: 'sk-codex',
  CODEX_MAX_RETRIES: '1',
  OPENCODE_BASE_URL: 'http://127.0.0.1:4010/v1',
  OPENCODE_API_KEY: 'sk-oc',
  OPENCODE_MODEL: 'm1',
  OPENCODE_MODEL_COST: '3,15',
  GEMINI_API_KEY: 'g-key',
  GOOGLE_GEMINI_BASE_URL: 'http://127.0.0.1:4010',
  GEMINI_MAX_ATTEMPTS: '1',
  DROID_BASE_URL: 'http://127.0.0.1:4010',
  DROID_API_KEY: 'sk-droid',
  DROID_MODEL: 'dm',
  GITHUB_TOKEN: 'ghp_never_passed',
};

describe('prepareHome', () => {
  it('passes each agent only its own variables (never another agent\'s key, never unrelated secrets)', () => {
    for (const adapter of Object.values(ADAPTERS)) {
      const setup = adapter.prepareHome(makeCtx({ step: { agent: adapter.name } }), ENV);
      for (const k of Object.keys(setup.env)) if (!k.startsWith('FACTORY_') || k === 'FACTORY_API_KEY') expect([...adapter.passEnv, 'OPENCODE_CONFIG_CONTENT']).toContain(k);
      expect(setup.env.GITHUB_TOKEN).toBeUndefined();
    }
    expect(getAdapter('claude').prepareHome(makeCtx(), ENV).env).toEqual({ ANTHROPIC_BASE_URL: 'http://127.0.0.1:4010', ANTHROPIC_API_KEY: 'sk-ant-x' });
  });

  it('codex: config.toml with a Responses provider from CODEX_BASE_URL, the key by variable name, capped retries', () => {
    const setup = getAdapter('codex').prepareHome(makeCtx({ step: { agent: 'codex' } }), ENV);
    const toml = setup.files.find((f) => f.path === 'config.toml')?.content ?? '';
    expect(toml).toContain('approval_policy = "never"');
    expect(toml).toContain('model_provider = "orchestrator"');
    expect(toml).toContain('base_url = "http://127.0.0.1:4010/v1"');
    expect(toml).toContain('env_key = "CODEX_API_KEY"');
    expect(toml).toContain('wire_api = "responses"');
    expect(toml).toContain('request_max_retries = 1');
    expect(toml).not.toContain('sk-codex');
    expect(setup.env.CODEX_API_KEY).toBe('sk-codex');
  });

  it('codex without a base URL keeps its default provider (no custom provider section)', () => {
    const toml = getAdapter('codex').prepareHome(makeCtx({ step: { agent: 'codex' } }), {}).files[0]?.content ?? '';
    expect(toml).not.toContain('model_providers');
  });

  it('opencode: OPENCODE_CONFIG_CONTENT with an openai-compatible provider, the key by {env:...}, cost, and the model argument', () => {
    const setup = getAdapter('opencode').prepareHome(makeCtx({ step: { agent: 'opencode' } }), ENV);
    const config = JSON.parse(setup.env.OPENCODE_CONFIG_CONTENT ?? '{}') as Record<string, unknown>;
    expect(config).toMatchObject({
      model: 'orchestrator/m1',
      permission: { edit: 'allow', bash: 'allow' },
      provider: { orchestrator: { npm: '@ai-sdk/openai-compatible', options: { baseURL: 'http://127.0.0.1:4010/v1', apiKey: '{env:OPENCODE_API_KEY}' }, models: { m1: { tool_call: true, cost: { input: 3, output: 15 } } } } },
    });
    expect(setup.model).toBe('orchestrator/m1');
    expect(setup.env.OPENCODE_CONFIG_CONTENT).not.toContain('sk-oc');
  });

  it('gemini: settings.json selects API-key auth, telemetry and statistics off, retries capped', () => {
    const setup = getAdapter('gemini').prepareHome(makeCtx({ step: { agent: 'gemini' } }), ENV);
    const settings = JSON.parse(setup.files[0]?.content ?? '{}') as Record<string, unknown>;
    expect(setup.files[0]?.path).toBe('.gemini/settings.json');
    expect(settings).toMatchObject({ security: { auth: { selectedType: 'gemini-api-key' } }, telemetry: { enabled: false }, privacy: { usageStatisticsEnabled: false }, general: { disableAutoUpdate: true, maxAttempts: 1 } });
  });

  it('droid: a custom model in settings.json (0600), addressed as custom:<model>', () => {
    const setup = getAdapter('droid').prepareHome(makeCtx({ step: { agent: 'droid' } }), ENV);
    const file = setup.files[0];
    expect(file?.path).toBe('.factory/settings.json');
    expect(file?.mode).toBe(0o600);
    expect(JSON.parse(file?.content ?? '{}')).toEqual({ customModels: [{ model: 'dm', displayName: 'dm', baseUrl: 'http://127.0.0.1:4010/v1', apiKey: 'sk-droid', provider: 'generic-chat-completion-api', maxOutputTokens: 8192 }] });
    expect(setup.model).toBe('custom:dm');
    // airgap: no calls to Factory's servers when the model is the operator's own
    expect(setup.env).toMatchObject({ FACTORY_AIRGAP_ENABLED: 'true', FACTORY_DROID_AUTO_UPDATE_ENABLED: 'false', DROID_API_KEY: 'sk-droid' });
  });

  it('the model endpoint each agent will call (for policy.network=deny)', () => {
    expect(Object.fromEntries(Object.values(ADAPTERS).map((a) => [a.name, a.modelEndpoint(ENV)]))).toEqual({
      claude: 'http://127.0.0.1:4010',
      codex: 'http://127.0.0.1:4010',
      opencode: 'http://127.0.0.1:4010/v1',
      droid: 'http://127.0.0.1:4010',
      gemini: 'http://127.0.0.1:4010',
    });
    expect(getAdapter('claude').modelEndpoint({})).toBeNull();
  });
});
