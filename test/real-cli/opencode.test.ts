/** OpenCode (opencode-ai), the real binary, through our adapter and runner. */
import { realCliSuite } from './suite.ts';

// a permanent 500 takes opencode ~76 s of its own retries (no knob to cap them): only the transient case runs
await realCliSuite('opencode', { binary: 'opencode', resume: true, fastRateLimit: true, cappedRetries: false, reportsCost: true, readOnlyTools: ['read', 'grep', 'glob'] });
