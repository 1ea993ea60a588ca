// bullmq lives in bench/.peers (installed by the bench), not in the product's dependencies
/**
 * The BullMQ side of the comparisons: a worker that runs each job's argv as a child process (the
 * same trivial process our runner spawns), `concurrency` at a time, and reports success when it
 * exits 0. Started by bench/compare.ts as:
 *   node bench/bullmq-worker.mjs <bench/.peers directory> <redis port> <queue name> <concurrency>
 * Prints "ready" once connected.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const [, , peersDir, port, queueName, concurrency] = process.argv;
// the CommonJS build: bullmq's ESM build cannot load ioredis from connection options
const { Worker } = createRequire(path.join(String(peersDir), 'package.json'))('bullmq');

const worker = new Worker(
  queueName,
  /** @param {{ data: { argv: string[] } }} job */
  (job) =>
    new Promise((resolve, reject) => {
      const [file, ...args] = job.data.argv;
      const child = spawn(String(file), args, { stdio: 'ignore' });
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve(code) : reject(new Error(`exit ${code}`))));
    }),
  { connection: { host: '127.0.0.1', port: Number(port) }, concurrency: Number(concurrency) },
);
await worker.waitUntilReady();
process.stdout.write('ready\n');
const stop = async () => {
  await worker.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
