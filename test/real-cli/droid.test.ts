/**
 * Factory Droid (droid), the real binary, through our adapter and runner. Its resume (`-s <id>`)
 * fetches the session from Factory's servers and cannot work offline: the second step starts a new
 * session here, and resuming is covered on recorded output in test/workers (adapter argv, parser).
 */
import { realCliSuite } from './suite.ts';

await realCliSuite('droid', { binary: 'droid', resume: false, fastRateLimit: false, cappedRetries: false, reportsCost: false, readOnlyTools: ['Read', 'LS', 'Grep'] });
