/**
 * argv of `podman|docker run` for a preset with an `image` (pure). The job's work tree, the agent's
 * config home and tmp are bind-mounted at their host paths (so every path the adapter put in argv
 * and env stays valid), the process runs as a non-root user, with the preset's CPU and memory
 * limits, no capabilities, `--network none` when the network is denied, and the container is
 * removed when it ends (`--rm`; the runner also `rm -f`s it by name after a kill). Variables are
 * passed by name (`-e NAME`), so values never appear in argv or `ps`.
 * Podman from Debian needs `--runtime runc --events-backend none` and explicit ulimits here.
 */

export interface ContainerSpec {
  runtime: 'podman' | 'docker';
  name: string;
  image: string;
  workDir: string;
  agentHome: string;
  tmpDir: string;
  /** Extra read-only mounts at their host paths (the simulator in simulated mode). */
  readOnly: string[];
  network: 'allow' | 'deny';
  cpu?: number;
  memory?: string;
  /** uid:gid */
  user: string;
  /** Names of the variables to pass (their values come from the runtime's own environment). */
  envNames: string[];
}

/** Variables that describe the host, not the container. */
const HOST_ONLY = new Set(['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL']);

export function containerArgs(spec: ContainerSpec, argv: string[]): string[] {
  const args = spec.runtime === 'podman' ? ['--runtime', 'runc', '--events-backend', 'none', 'run'] : ['run'];
  args.push('--rm', '--name', spec.name, '--user', spec.user, '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges');
  args.push('--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096', '--pids-limit', '4096');
  if (spec.network === 'deny') args.push('--network', 'none');
  if (spec.cpu !== undefined) args.push('--cpus', String(spec.cpu));
  if (spec.memory !== undefined) args.push('--memory', spec.memory);
  for (const dir of [spec.workDir, spec.agentHome, spec.tmpDir]) args.push('-v', `${dir}:${dir}:rw`);
  for (const dir of spec.readOnly) args.push('-v', `${dir}:${dir}:ro`);
  args.push('-w', spec.workDir, '-e', `HOME=${spec.agentHome}`);
  for (const name of spec.envNames) if (!HOST_ONLY.has(name)) args.push('-e', name);
  args.push(spec.image, ...argv);
  return args;
}
