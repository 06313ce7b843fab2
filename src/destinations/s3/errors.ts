import { DuctError, type RetryClass } from '../../core/errors';
import { redactSecrets } from '../../core/redact';

/** The parts of an AWS SDK error this module reads (no SDK import, so it stays light). */
interface AwsErrorLike {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

const PERMANENT_NAMES = new Set([
  'NoSuchBucket',
  'NotFound',
  'AccessDenied',
  'Forbidden',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidBucketName',
  'AllAccessDisabled',
  'InvalidRequest',
  'PermanentRedirect',
  'AuthorizationHeaderMalformed',
  'EntityTooLarge',
  'KMS.DisabledException',
]);

/**
 * The retry class of an S3 failure: throttling, timeouts, 5xx and network errors are retried with
 * backoff; a missing bucket, a refused credential or a malformed request is permanent.
 */
export function s3RetryClass(e: unknown): RetryClass {
  if (e instanceof DuctError) return e.retry;
  const err = (e ?? {}) as AwsErrorLike;
  const status = err.$metadata?.httpStatusCode;
  if (err.name && PERMANENT_NAMES.has(err.name)) return 'never';
  if (status === undefined) return 'backoff';
  if (status === 408 || status === 429 || status >= 500) return 'backoff';
  if (status >= 300) return 'never';
  return err.$retryable ? 'backoff' : 'never';
}

export interface S3ErrorContext {
  name: string;
  bucket: string;
  fields: { bucket: string; endpoint: string; credentials: string };
}

function hintFor(e: AwsErrorLike, ctx: S3ErrorContext): string | undefined {
  const status = e.$metadata?.httpStatusCode;
  if (e.name === 'NoSuchBucket' || (e.name === 'NotFound' && status === 404)) return `create bucket "${ctx.bucket}" or fix ${ctx.fields.bucket}`;
  if (status === 403 || e.name === 'AccessDenied' || e.name === 'InvalidAccessKeyId' || e.name === 'SignatureDoesNotMatch') {
    return `check the credentials (${ctx.fields.credentials} or the AWS credential chain) and the bucket policy`;
  }
  if (status === 301 || e.name === 'PermanentRedirect') return "set region to the bucket's region";
  if (status === undefined) return `check that the S3 endpoint is reachable (${ctx.fields.endpoint}, or AWS when unset)`;
  return undefined;
}

/** Wraps an S3 failure into a DuctError naming the destination, the bucket and what it was doing. */
export function s3Error(e: unknown, what: string, ctx: S3ErrorContext): DuctError {
  if (e instanceof DuctError) return e;
  const err = (e ?? {}) as AwsErrorLike;
  const status = err.$metadata?.httpStatusCode;
  const detail = [err.name ?? err.code, status ? `HTTP ${status}` : undefined, err.message].filter(Boolean).join(': ');
  const retry = s3RetryClass(e);
  return new DuctError(
    retry === 'never' ? 'destination_failed' : 'unavailable',
    `s3 destination "${ctx.name}": ${what} (bucket ${ctx.bucket}): ${redactSecrets(detail || String(e))}`,
    {
      retry,
      hint: hintFor(err, ctx),
      cause: e,
    },
  );
}
