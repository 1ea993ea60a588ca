/**
 * Run the fake model server by hand: `node --import tsx test/fake-model/main.ts [scenarios.json]`.
 * Prints its URL; every request is logged to stderr. Scenarios file: {"default": {...}, "<name>": {...}}.
 */
import { readFileSync } from 'node:fs';
import { startFakeModel } from './server.ts';
import type { FakeScenario } from './script.ts';

const file = process.argv[2];
const scenarios: Record<string, FakeScenario> = file
  ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, FakeScenario>)
  : { default: { actions: [{ kind: 'write', path: 'hello.txt', content: 'hello from the fake model\n' }], final: 'Created hello.txt.' } };
const server = await startFakeModel({ scenarios });
console.log(server.url);
let seen = 0;
setInterval(() => {
  for (; seen < server.requests.length; seen++) console.error(JSON.stringify(server.requests[seen]));
}, 200);
