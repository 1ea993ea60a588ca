/**
 * `npm run bench`: every benchmark, one after the other; each prints its table and writes
 * bench/results/<name>.json. Pass `--quick` for a smaller run.
 */
import { existsSync } from 'node:fs';
import { runCoreBench } from './core.ts';

const quick = process.argv.includes('--quick');
await runCoreBench(quick ? { jobs: 200, pickups: 30, bigPending: 2000 } : {});
for (const extra of ['./ingest.ts']) {
  if (existsSync(new URL(extra, import.meta.url))) {
    const mod = (await import(extra)) as { main?: (o: { quick: boolean }) => Promise<unknown> };
    if (mod.main) await mod.main({ quick });
  }
}
