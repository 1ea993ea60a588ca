/**
 * What Droid cannot do offline, checked on its real recorded output (droid 0.215.0 against the fake
 * model server): its 429 retries back off for ~80 s and a permanent 500 for ~250 s, with no knob to
 * cap them, and resuming (`-s <id>`)
 * fetches the session from Factory's servers, so offline it exits 1 with no output at all.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { getAdapter } from '../../workers/registry.ts';
import { exitCode, feed, makeCtx } from '../helpers/workers-context.ts';

const NOW = Date.parse('2026-11-21T16:00:00Z');
const recorded = (name: string): string[] => readFileSync(path.join(__dirname, 'recorded', name), 'utf8').split('\n').filter(Boolean);

describe('droid on recorded real output', () => {
  it('429 after its own retries: rate_limit with the reset the message names (not the generic "Exec failed")', () => {
    const parser = getAdapter('droid').createParser();
    const out = feed(parser, recorded('droid-0.215.0-429.stream.jsonl'), exitCode(1));
    expect(out.status).toBe('failed');
    expect(out.error?.code).toBe('rate_limit');
    expect(out.error?.http_status).toBe(429);
    expect(out.error?.message).toContain('try again in 120 seconds');
    expect(Date.parse(out.error?.reset_at ?? '')).toBeGreaterThan(NOW);
    expect(out.session_id).toBe('7931f738-db2f-4170-8632-b902f1b4dedc');
  });

  it('a permanent 500 after its own retries: model_error (retried by the runner), with the status', () => {
    const out = feed(getAdapter('droid').createParser(), recorded('droid-0.215.0-500.stream.jsonl'), exitCode(1));
    expect(out.error).toMatchObject({ code: 'model_error', http_status: 500 });
    expect(out.error?.message).toBe('500 Internal server error (fake model); Exec failed');
  });

  it('resume offline: `droid exec -s <id>` exits 1 with no output, which is a failure, never a success', () => {
    const inv = getAdapter('droid').buildInvocation(makeCtx({ step: { agent: 'droid' }, resumeSessionId: '5b0b9efe-9bd9-43be-ab95-00304262b093', prompt: 'continue' }));
    expect(inv.args).toEqual(['exec', '-o', 'stream-json', '--skip-permissions-unsafe', '-s', '5b0b9efe-9bd9-43be-ab95-00304262b093', 'continue']);
    const out = feed(getAdapter('droid').createParser(), [], exitCode(1));
    expect(out.status).toBe('failed');
    expect(out.error?.code).toBe('crash');
  });
});
