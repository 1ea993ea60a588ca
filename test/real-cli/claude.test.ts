/** Claude Code (@anthropic-ai/claude-code), the real binary, through our adapter and runner. */
import { expect, it } from 'vitest';
import { realCliSuite, uniq } from './suite.ts';

await realCliSuite('claude', { binary: 'claude', resume: true, fastRateLimit: true, cappedRetries: true, reportsCost: true }, (t) => {
  it('writes denied by its permissions are reported as permission_denied, not passed off as success', async () => {
    const r = await t.rig();
    const name = uniq('denied');
    t.server().setScenario(name, { actions: [{ kind: 'write', path: 'denied.txt', content: 'x\n' }], final: 'I could not write the file.' });
    // only Read is allowed: claude -p refuses Write silently (exit 0, is_error false) and lists it in permission_denials
    const { state, step } = await r.run({ goal: 'denied', steps: [{ step_id: 's', agent: 'claude', prompt: `[fake:${name}] write`, allowed_tools: ['Read'], max_retries: 0 }] });
    expect(state).toBe('failed');
    expect(step('s').error?.code).toBe('permission_denied');
    expect(step('s').error?.message).toContain('Write');
    expect(step('s').files_changed ?? []).toEqual([]);
  });
});
