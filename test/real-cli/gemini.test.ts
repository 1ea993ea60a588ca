/** Gemini CLI (@google/gemini-cli), the real binary, through our adapter and runner. */
import { realCliSuite } from './suite.ts';

// GEMINI_MAX_ATTEMPTS=1 (settings general.maxAttempts) caps its retries: a permanent 500 fails fast
await realCliSuite('gemini', { binary: 'gemini', resume: true, fastRateLimit: true, cappedRetries: true, reportsCost: false, transientEnv: { GEMINI_MAX_ATTEMPTS: '3' }, readOnlyTools: ['read_file', 'glob', 'list_directory'] });
