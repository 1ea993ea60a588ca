/**
 * Failpoints: named moments where a test can make this process die as a crash would (SIGKILL,
 * no cleanup), to prove that what the process had made durable so far is enough. Set
 * `ORCHESTRATOR_FAILPOINT=<name>` in the environment of a process under test; unset, a failpoint
 * costs one property read. Names in use: `closing:before-move`, `closing:after-move`
 * (runner/control.ts, a command closing a job).
 */
export function failpoint(name: string): void {
  if (process.env.ORCHESTRATOR_FAILPOINT === name) process.kill(process.pid, 'SIGKILL');
}
