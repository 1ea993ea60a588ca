/**
 * Logging with pino, created once and passed in. Redaction of credential-bearing fields is
 * configured here and nowhere else.
 */
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export function createLogger(opts: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      name: opts.name ?? 'orchestrator',
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: ['*.token', '*.secret', '*.password', '*.authorization', 'headers.authorization', '*.api_key', '*.apiKey'], censor: '[REDACTED]' },
    },
    opts.destination ?? process.stderr,
  );
}

/** A logger that writes nothing (tests, quiet commands). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
