/**
 * Concurrency slots as a specification (two holders, one database): limits per agent and per
 * project, all-or-nothing acquisition, the agent slot swapped at a step boundary, and the slots of
 * a dead holder reclaimed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCountMap } from '../../lib/config.ts';
import { decideSlots, slotLimit, SlotStore } from '../../runner/concurrency.ts';
import { openStateDb, type StateDb } from '../../runner/state-db.ts';

let dir: string;
let db: StateDb;
const limits = { agents: { claude: 1, codex: 2 }, projects: { web: 1 } };
const holderA = { runnerId: 'runner-a', pid: 101, host: 'h' };
const holderB = { runnerId: 'runner-b', pid: 202, host: 'h' };

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'slots-'));
  db = openStateDb(path.join(dir, 'state.db'));
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('concurrency: configuration and decision', () => {
  it('parses AGENT_CONCURRENCY / PROJECT_CONCURRENCY, with * as the default', () => {
    expect(parseCountMap('claude=2, codex=1,*=4', 'AGENT_CONCURRENCY')).toEqual({ claude: 2, codex: 1, '*': 4 });
    expect(() => parseCountMap('claude=0', 'AGENT_CONCURRENCY')).toThrow(/AGENT_CONCURRENCY/);
    expect(() => parseCountMap('claude', 'AGENT_CONCURRENCY')).toThrow(/AGENT_CONCURRENCY/);
    expect(slotLimit({ claude: 2, '*': 4 }, 'claude')).toBe(2);
    expect(slotLimit({ claude: 2, '*': 4 }, 'gemini')).toBe(4);
    expect(slotLimit({ claude: 2 }, 'gemini')).toBe(0);
  });

  it('decides on what other jobs hold; a slot already held is kept', () => {
    const need = { jobId: 'j', agent: 'claude', project: 'web' };
    expect(decideSlots(need, limits, { projectHeldByOthers: 0, projectMine: false, agentHeldByOthers: 0, agentMine: false }).ok).toBe(true);
    expect(decideSlots(need, limits, { projectHeldByOthers: 1, projectMine: false, agentHeldByOthers: 0, agentMine: false })).toMatchObject({ ok: false, scope: 'project', key: 'web' });
    expect(decideSlots(need, limits, { projectHeldByOthers: 0, projectMine: false, agentHeldByOthers: 1, agentMine: false })).toMatchObject({ ok: false, scope: 'agent', key: 'claude' });
    expect(decideSlots(need, limits, { projectHeldByOthers: 1, projectMine: true, agentHeldByOthers: 1, agentMine: true }).ok).toBe(true);
  });
});

describe('concurrency: the slot store', () => {
  it('holds an agent limit across holders, and frees the slot on release', () => {
    const a = new SlotStore(db, holderA, limits);
    const b = new SlotStore(db, holderB, limits);
    expect(a.acquire({ jobId: 'j1', agent: 'claude', project: 'p1' }, 't').ok).toBe(true);
    expect(b.acquire({ jobId: 'j2', agent: 'claude', project: 'p2' }, 't')).toMatchObject({ ok: false, scope: 'agent', reason: expect.stringContaining('AGENT_CONCURRENCY') });
    expect(b.acquire({ jobId: 'j3', agent: 'codex', project: 'p2' }, 't').ok).toBe(true); // other agents are not blocked
    expect(a.acquire({ jobId: 'j1', agent: 'claude', project: 'p1' }, 't').ok).toBe(true); // idempotent
    expect(a.release('j1')).toBe(1);
    expect(b.acquire({ jobId: 'j2', agent: 'claude', project: 'p2' }, 't').ok).toBe(true);
  });

  it('takes project and agent slots all or nothing', () => {
    const a = new SlotStore(db, holderA, limits);
    const b = new SlotStore(db, holderB, limits);
    expect(a.acquire({ jobId: 'j1', agent: 'codex', project: 'web' }, 't').ok).toBe(true);
    expect(b.acquire({ jobId: 'j2', agent: 'claude', project: 'web' }, 't')).toMatchObject({ ok: false, scope: 'project' });
    expect(a.list().map((r) => `${r.scope}:${r.key}:${r.job_id}`)).toEqual(['agent:codex:j1', 'project:web:j1']); // j2 took nothing
  });

  it('swaps the agent slot at a step boundary, keeping the project slot', () => {
    const a = new SlotStore(db, holderA, limits);
    const b = new SlotStore(db, holderB, limits);
    expect(a.acquire({ jobId: 'j1', agent: 'claude', project: 'web' }, 't').ok).toBe(true);
    expect(a.acquire({ jobId: 'j1', agent: 'codex', project: 'web' }, 't').ok).toBe(true);
    expect(a.list().map((r) => `${r.scope}:${r.key}`)).toEqual(['agent:codex', 'project:web']);
    expect(b.acquire({ jobId: 'j2', agent: 'claude', project: 'other' }, 't').ok).toBe(true); // claude is free again
    expect(a.acquire({ jobId: 'j1', agent: 'claude', project: 'web' }, 't')).toMatchObject({ ok: false, scope: 'agent' });
  });

  it("refuses a job whose slots another live holder has; reclaims a dead holder's slots", async () => {
    const a = new SlotStore(db, holderA, limits);
    const b = new SlotStore(db, holderB, limits);
    expect(a.acquire({ jobId: 'j1', agent: 'claude', project: 'web' }, 't').ok).toBe(true);
    expect(b.acquire({ jobId: 'j1', agent: 'claude', project: 'web' }, 't')).toMatchObject({ ok: false, scope: 'job' });
    expect(await b.reclaimDead(async () => false)).toBe(0);
    expect(await b.reclaimDead(async (h) => h.runnerId === 'runner-a')).toBe(2);
    expect(b.acquire({ jobId: 'j1', agent: 'claude', project: 'web' }, 't').ok).toBe(true);
    expect(b.releaseAll()).toBe(2);
    expect(a.list()).toEqual([]);
  });
});
