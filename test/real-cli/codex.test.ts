/** Codex CLI (@openai/codex), the real binary, through our adapter and runner. */
import { expect, it } from 'vitest';
import { realCliSuite, uniq } from './suite.ts';

await realCliSuite('codex', { binary: 'codex', resume: true, fastRateLimit: true, cappedRetries: true, reportsCost: false }, (t) => {
  it('a command that failed inside an exit-0 run that changed nothing is reported as tool_failed', async () => {
    const r = await t.rig();
    const name = uniq('cmdfail');
    t.server().setScenario(name, { actions: [{ kind: 'shell', command: 'echo cannot build >&2; exit 3' }], final: 'Done.' });
    const { state, step } = await r.run({ goal: 'nothing', steps: [{ step_id: 's', agent: 'codex', prompt: `[fake:${name}] build`, max_retries: 0 }] });
    expect(state).toBe('failed');
    expect(step('s').error?.code).toBe('tool_failed');
    expect(step('s').error?.message).toContain('exit 3');
  });
});
