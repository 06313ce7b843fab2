import { redactSecrets } from './redact';

/**
 * How a failure should be handled, decided once where the error is thrown:
 * - `never`: bad input or a permanent refusal (4xx, missing table, wrong wal_level); retrying cannot help.
 * - `transient`: a dropped connection or a timeout; retry soon.
 * - `backoff`: the peer is overloaded or rate-limits us (429, 503); retry with capped exponential backoff.
 */
export type RetryClass = 'never' | 'transient' | 'backoff';

export type ErrorCode =
  'invalid_argument' | 'not_found' | 'already_exists' | 'failed_precondition' | 'unavailable' | 'destination_failed' | 'source_failed' | 'internal';

export interface DuctErrorOptions {
  retry?: RetryClass;
  /** What the user should do about it, e.g. "set wal_level=logical in postgresql.conf and restart". */
  hint?: string;
  /** The input field this error is about, as a path like `source.options.batch_size`. */
  field?: string;
  cause?: unknown;
}

/**
 * The one error type of DuctStream. Its message never contains a secret: it is passed through
 * {@link redactSecrets} on construction, so callers may include DSNs and raw driver messages.
 */
export class DuctError extends Error {
  readonly code: ErrorCode;
  readonly retry: RetryClass;
  readonly hint?: string;
  readonly field?: string;

  constructor(code: ErrorCode, message: string, opts: DuctErrorOptions = {}) {
    super(redactSecrets(message), opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'DuctError';
    this.code = code;
    this.retry = opts.retry ?? (code === 'unavailable' ? 'transient' : 'never');
    this.hint = opts.hint !== undefined ? redactSecrets(opts.hint) : undefined;
    this.field = opts.field;
  }

  /** One line for a person: the message and, when known, what to do about it. */
  describe(): string {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }
}

/** Bad input: names the field and the fix. Never retried. */
export function invalidArgument(field: string, problem: string, fix?: string): DuctError {
  return new DuctError('invalid_argument', `${field}: ${problem}`, { field, hint: fix, retry: 'never' });
}

export function isDuctError(e: unknown): e is DuctError {
  return e instanceof DuctError;
}

/** The retry class of any thrown value; unknown errors are treated as transient. */
export function retryClassOf(e: unknown): RetryClass {
  if (e instanceof DuctError) return e.retry;
  return 'transient';
}

/** A one-line description of any thrown value with secrets removed, for logs and API responses. */
export function describeError(e: unknown): string {
  if (e instanceof DuctError) return e.describe();
  if (e instanceof Error) return redactSecrets(e.message);
  return redactSecrets(String(e));
}
