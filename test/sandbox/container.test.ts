/**
 * Container mode for real (podman): a preset with an `image` runs the agent in a container with the
 * workspace bind-mounted, as a non-root user, `--network none` when the network is denied, the
 * preset's CPU and memory limits, and the container removed afterwards. The image is built locally
 * from the host's node binary (no registry). Skipped, with the reason printed, without podman.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StepResult } from '../../contracts/index.ts';
import { createRunner, type Runner } from '../../runner/runner.ts';
import type { JobState } from '../../runner/state.ts';
import { clearPresetCache, DEFAULT_PRESETS_DIR } from '../../workers/presets.ts';
import { ensureNodeImage, podman } from '../helpers/container-image.ts';
import { readJson, submit, tempHome, waitForState, type TempHome } from '../helpers/env.ts';
import { connectionCounter, type ConnectionCounter } from '../helpers/processes.ts';

const built = ensureNodeImage();
if (!('image' in built)) console.log(`[container] SKIP: ${built.reason}`);
const PROBE = path.resolve(__dirname, '../fixtures/probe-agent.mjs');

describe.skipIf(!('image' in built))('container mode (podman)', () => {
  const image = 'image' in built ? built.image : '';
  let home: TempHome;
  let runner: Runner;
  let server: ConnectionCounter;
  // stands in for the model endpoint: the one address the relay lets the agent reach
  let model: ConnectionCounter;
  let presets: string;

  beforeAll(async () => {
    server = await connectionCounter();
    model = await connectionCounter();
  });
  afterAll(async () => {
    await server.close();
    await model.close();
  });
  afterEach(async () => {
    await runner.stop({ force: true });
    await home.cleanup();
    rmSync(presets, { recursive: true, force: true }); // outside the home: removed on its own
    for (const k of ['PROBE_PORT', 'MODEL_PORT', 'ENV_ALLOWLIST', 'ANTHROPIC_BASE_URL']) delete process.env[k];
  });

  async function start(real: boolean): Promise<void> {
    clearPresetCache();
    home = await tempHome({ CONTAINER_RUNTIME: 'podman', ...(real ? { ENABLE_REAL_CLI: '1' } : {}), WORKER_PRESETS_DIR: path.join(process.env.TMPDIR ?? '/tmp', `orch-presets-${process.pid}`) });
    presets = home.config.agents.presetsDir!;
    mkdirSync(presets, { recursive: true });
    for (const f of ['claude-implementer.json']) copyFileSync(path.join(DEFAULT_PRESETS_DIR, f), path.join(presets, f));
    runner = createRunner({ config: home.config });
    await runner.start();
  }

  it('the agent runs as a non-root user with --network none and limits; the workspace is its only writable mount; the container is removed', async () => {
    await start(true);
    const jobId = `container-${Date.now()}`;
    // the probe agent lives in the job's own agent home, which is mounted into the container
    const agentHome = path.join(home.config.paths.workspacesRoot, jobId, 'home', 'claude');
    mkdirSync(agentHome, { recursive: true });
    copyFileSync(PROBE, path.join(agentHome, 'probe-agent.mjs'));
    writeFileSync(path.join(presets, 'probe-box.json'), JSON.stringify({ id: 'probe-box', name: 'Probe in a box', agent: { type: 'claude', command: ['node', path.join(agentHome, 'probe-agent.mjs')] }, allowed_tools: ['Read'], network: 'deny', limits: { cpu: 1, memory: '256m', timeout_sec: 60 }, image }));
    const modelPort = model.port;
    process.env.PROBE_PORT = String(server.port);
    process.env.MODEL_PORT = String(modelPort);
    process.env.ANTHROPIC_BASE_URL = `http://127.0.0.1:${modelPort}`;
    process.env.ENV_ALLOWLIST = 'PROBE_PORT,MODEL_PORT';
    const job = await submit(home, { job_id: jobId, goal: 'probe', steps: [{ step_id: 'p', agent: 'claude', worker: 'probe-box', max_retries: 0 }] });
    const state = await waitForState(home, job.job_id, ['done', 'failed'], 120_000);
    const dir = path.join(home.config.paths.artifactsRoot, job.job_id);
    const r = readJson<StepResult>(path.join(dir, 'steps', 'p', 'result.json'));
    expect(state, JSON.stringify(r.error) + readFileSync(path.join(dir, 'steps', 'p', 'logs.txt'), 'utf8').slice(-1500)).toBe('done');
    const probe = JSON.parse(r.summary.replace(/^PROBE /, '')) as { uid: number; network: string; model: string; allowed_tools: string };
    expect(probe.uid).toBe(1000);
    expect(probe.network).not.toBe('connected');
    expect(server.count).toBe(0);
    // the model endpoint, and only it, is relayed into the container
    expect(probe.model).toBe('connected');
    expect(model.count).toBe(1);
    expect(probe.allowed_tools).toBe('Read');
    expect(r.files_changed).toEqual(['probe.txt']);
    const log = readFileSync(path.join(dir, 'steps', 'p', 'logs.txt'), 'utf8');
    expect(log).toContain(`[orchestrator] container podman ${image} as 1000:1000, cpus 1, memory 256m, --network none`);
    expect(log).toMatch(/network denied \(--network none\); model endpoint 127\.0\.0\.1:\d+ relayed/);
    expect(podman(['ps', '-a', '--filter', `name=orch-${jobId}`, '--format', '{{.Names}}']).trim()).toBe('');
    // ownership handed back to the runner's user after the run
    const work = readJson<JobState>(path.join(dir, 'state.json')).workspace!.path;
    expect(statSync(path.join(work, 'probe.txt')).uid).toBe(process.getuid?.() ?? 0);
  });

  it('a simulated agent runs in the container too, and its edits land in patch.diff', async () => {
    await start(false);
    writeFileSync(path.join(presets, 'sim-box.json'), JSON.stringify({ id: 'sim-box', name: 'Sim in a box', agent: { type: 'codex' }, image, network: 'deny', limits: { memory: '256m' } }));
    const job = await submit(home, { goal: 'sim', steps: [{ step_id: 's', agent: 'codex', worker: 'sim-box', simulate: { files: { 'boxed.txt': 'from the container\n' } } }] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'], 120_000)).toBe('done');
    expect(readFileSync(path.join(home.config.paths.artifactsRoot, job.job_id, 'patch.diff'), 'utf8')).toContain('boxed.txt');
  });

  it('without CONTAINER_RUNTIME a preset with an image does not run (E_PREFLIGHT)', async () => {
    await start(false);
    await runner.stop({ force: true });
    const cfg = { ...home.config, agents: { ...home.config.agents, containerRuntime: null } };
    runner = createRunner({ config: cfg });
    await runner.start();
    writeFileSync(path.join(presets, 'sim-box.json'), JSON.stringify({ id: 'sim-box', name: 'Sim in a box', agent: { type: 'codex' }, image }));
    const job = await submit(home, { goal: 'sim', steps: [{ step_id: 's', agent: 'codex', worker: 'sim-box' }] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('failed');
    expect(readJson<StepResult>(path.join(home.config.paths.artifactsRoot, job.job_id, 'steps', 's', 'result.json')).error?.message).toContain('CONTAINER_RUNTIME is not set');
  });
});
