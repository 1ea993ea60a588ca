/**
 * The one door out of a network-denied sandbox: a Unix socket (bound into the sandbox with the
 * job's tmp dir) that the runner relays to the model endpoint and nowhere else. Inside, a small
 * launcher (RELAY_INNER_JS, run by node before the agent) listens on the endpoint's loopback
 * host:port in the sandbox's own network namespace and pipes each connection to that socket, so the
 * CLI's configured base URL works unchanged.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { promises as fsp } from 'node:fs';
import type { Endpoint } from './endpoint.ts';

export interface Relay {
  socketPath: string;
  close(): Promise<void>;
}

export async function startRelay(socketPath: string, target: Endpoint): Promise<Relay> {
  await fsp.rm(socketPath, { force: true });
  const sockets = new Set<Socket>();
  const server: Server = createServer((inner) => {
    const outer = connect(target.port, target.host);
    sockets.add(inner).add(outer);
    inner.pipe(outer).pipe(inner);
    const end = (): void => {
      inner.destroy();
      outer.destroy();
    };
    inner.on('error', end).on('close', end);
    outer.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socketPath, resolve));
  return {
    socketPath,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fsp.rm(socketPath, { force: true });
    },
  };
}

/**
 * `node -e RELAY_INNER_JS <socket> <host> <port> <file> <args...>`: listen on host:port, relay to
 * the socket, run the agent with inherited stdio, exit with its status; TERM/INT go to the agent.
 */
export const RELAY_INNER_JS = `
const net = require('net'); const { spawn } = require('child_process');
const [sock, host, port, file, ...args] = process.argv.slice(1);
const srv = net.createServer((c) => { const u = net.connect(sock); c.pipe(u).pipe(c); const end = () => { c.destroy(); u.destroy(); }; c.on('error', end); u.on('error', end); });
srv.listen(Number(port), host, () => {
  const child = spawn(file, args, { stdio: 'inherit' });
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => child.kill(s));
  child.on('error', (e) => { process.stderr.write('relay: cannot start ' + file + ': ' + e.message + '\\n'); process.exit(127); });
  child.on('exit', (code, sig) => { srv.close(); process.exit(code === null ? 128 + (require('os').constants.signals[sig] || 9) : code); });
});
srv.on('error', (e) => { process.stderr.write('relay: cannot listen on ' + host + ':' + port + ': ' + e.message + '\\n'); process.exit(126); });
`;

/** The argv that runs `argv` behind the inner relay. */
export function relayWrap(node: string, socketPath: string, target: Endpoint, argv: string[]): string[] {
  return [node, '-e', RELAY_INNER_JS, socketPath, target.host, String(target.port), ...argv];
}
