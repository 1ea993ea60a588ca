/**
 * bubblewrap argv for a sandboxed step (pure). The whole system is visible read-only; the job's
 * work tree, its agent's config home and its tmp are the only writable places; the roots holding
 * other jobs (workspaces/, artifacts/, the queue and state database) are hidden under empty
 * read-only tmpfs mounts, the runner's own job directory included, before the job's own three
 * directories are bound back. With network "deny" the step gets its own network namespace (only
 * loopback), and the relay socket (workers/sandbox/relay.ts) is its one way to its model endpoint.
 */

export interface BwrapSpec {
  workDir: string;
  agentHome: string;
  tmpDir: string;
  /** Existing directories to hide (workspaces root, artifacts root, var/, the runner's HOME...). */
  hide: string[];
  /**
   * Directories under /tmp to keep visible read-only (the sandbox gets a private /tmp): the
   * install root and PATH entries the agent needs when the orchestrator itself lives under /tmp.
   * Bound before the hiding mounts, so a hidden root inside one of them stays hidden.
   */
  readable?: string[];
  network: 'allow' | 'deny';
}

export function bwrapArgs(spec: BwrapSpec, argv: string[]): string[] {
  const args = ['--die-with-parent', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try'];
  if (spec.network === 'deny') args.push('--unshare-net');
  args.push('--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp');
  for (const dir of [...new Set(spec.readable ?? [])].sort((a, b) => a.length - b.length)) args.push('--ro-bind', dir, dir);
  // shortest first: a hidden parent must be mounted before a hidden child inside it; the job's own
  // directories are bound in before the hiding tmpfs mounts are made read-only (not recursive)
  const hide = [...new Set(spec.hide)].sort((a, b) => a.length - b.length);
  for (const dir of hide) args.push('--tmpfs', dir);
  for (const dir of [spec.workDir, spec.agentHome, spec.tmpDir]) args.push('--bind', dir, dir);
  for (const dir of hide) args.push('--remount-ro', dir);
  args.push('--chdir', spec.workDir, '--cap-drop', 'ALL', '--', ...argv);
  return args;
}

/** The probe `doctor` and the preflight run: can bwrap create its namespaces here? */
export const BWRAP_PROBE_ARGS = ['--die-with-parent', '--unshare-pid', '--unshare-net', '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--', 'true'];
