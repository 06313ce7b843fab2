import { DuctError, type RetryClass } from '../../core/errors';

/**
 * Snowflake error codes that a retry can cure: statement/lock conflicts, cancelled or timed-out
 * statements, internal errors, a warehouse that is resuming or overloaded.
 */
const TRANSIENT_CODES = new Set(['000603', '000604', '000605', '000625', '000630', '000606', '090001', '390114', '390112']);
const BACKOFF_CODES = new Set(['000610', '000631', '390400', '391920']);

/**
 * Classifies a snowflake-sdk error once, where it is caught: login refusals (`390xxx`) and SQL
 * errors (compilation, conversion, constraint) are permanent; network failures (driver codes
 * `401xxx`, no HTTP answer) and the codes above are retried.
 */
export function classifySnowflakeError(err: unknown, context: string): DuctError {
  const e = err as { code?: string | number; message?: string; sqlState?: string };
  const code = e.code === undefined ? '' : String(e.code).padStart(6, '0');
  const message = (e.message ?? String(err)).split('\n')[0]!;
  let retry: RetryClass = 'never';
  let errorCode: 'unavailable' | 'destination_failed' | 'failed_precondition' = 'destination_failed';
  if (TRANSIENT_CODES.has(code)) retry = 'transient';
  else if (BACKOFF_CODES.has(code)) retry = 'backoff';
  else if (code.startsWith('401') || code === '' || /ECONNREFUSED|ECONNRESET|ETIMEDOUT|socket hang up|Network error/i.test(message)) {
    retry = 'transient';
    errorCode = 'unavailable';
  } else if (code.startsWith('390')) errorCode = 'failed_precondition';
  return new DuctError(errorCode, `${context}: ${message}${code ? ` (code ${code})` : ''}`, {
    retry,
    cause: err,
    hint: code.startsWith('390') ? 'check the user, password or private key, account and role in dsn' : undefined,
  });
}
