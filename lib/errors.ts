/**
 * The one coded error registry. Every error a user can see has a stable code, a message that says
 * what is wrong and where, the HTTP status and CLI exit code it maps to, and keeps its `cause`.
 * Nothing else in the codebase invents status codes or exit codes.
 */

export interface ErrorSpec {
  readonly http: number;
  /** CLI exit code: 1 = the job failed / operation failed, 2 = bad input. */
  readonly exit: 1 | 2;
}

export const ERROR_CODES = {
  E_INVALID_JSON: { http: 400, exit: 2 },
  E_SCHEMA: { http: 400, exit: 2 },
  E_BAD_INPUT: { http: 400, exit: 2 },
  E_FILE_NOT_FOUND: { http: 404, exit: 2 },
  E_JOB_NOT_FOUND: { http: 404, exit: 2 },
  /** An HTTP route or an artifact that does not exist. */
  E_NOT_FOUND: { http: 404, exit: 2 },
  E_JOB_EXISTS: { http: 409, exit: 2 },
  E_BAD_STATE: { http: 409, exit: 2 },
  E_LOCK_HELD: { http: 409, exit: 1 },
  E_UNAUTHORIZED: { http: 401, exit: 2 },
  E_FORBIDDEN: { http: 403, exit: 2 },
  E_PAYLOAD_TOO_LARGE: { http: 413, exit: 2 },
  E_UNSUPPORTED_MEDIA: { http: 415, exit: 2 },
  E_RATE_LIMITED: { http: 429, exit: 1 },
  E_QUEUE_UNAVAILABLE: { http: 503, exit: 1 },
  E_CONFIG: { http: 500, exit: 2 },
  E_JOB_FAILED: { http: 500, exit: 1 },
  /** A secret was found in artifacts (verify-artifacts; a step fails with this code too). */
  E_SECRETS: { http: 422, exit: 1 },
  /** A step's binary is not in ALLOWED_BINARIES / policy.allowed_binaries (nothing ran). */
  E_NOT_ALLOWED: { http: 403, exit: 1 },
  /** A step's preflight failed: binary too old, sandbox unavailable, network policy not enforceable (nothing ran). */
  E_PREFLIGHT: { http: 412, exit: 1 },
  E_INTERNAL: { http: 500, exit: 1 },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** One problem found in an input, located by a JSONPath-like path (`$.steps[0].agent`) and/or a file. */
export interface Issue {
  path: string;
  message: string;
}

export interface ErrorDetails {
  file?: string;
  issues?: Issue[];
  [key: string]: unknown;
}

export class OrchestratorError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OrchestratorError';
    this.code = code;
    this.details = details;
  }
  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }
  get exitCode(): 1 | 2 {
    return ERROR_CODES[this.code].exit;
  }
  /** A user-facing rendering: message plus each located issue, never a stack trace. */
  describe(): string {
    const lines = [this.message];
    for (const issue of this.details.issues ?? []) lines.push(`  ${issue.path}: ${issue.message}`);
    return lines.join('\n');
  }
  toJSON(): { code: ErrorCode; message: string; details: ErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isOrchestratorError(err: unknown): err is OrchestratorError {
  return err instanceof OrchestratorError;
}

/** Node system errors carry a string `code` (ENOENT, EEXIST...). */
export function errnoCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return undefined;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
