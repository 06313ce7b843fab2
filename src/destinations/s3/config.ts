import { awsRegionFromEnv } from '../../config/env';
import { OptionReader, type OptionMap } from '../../config/options';
import { invalidArgument } from '../../core/errors';
import type { RetryPolicy } from '../../core/retry';
import { parseParquetCompression, parseWireFormat, type ParquetCompression } from '../../wire/registry';
import { readRetryOptions } from '../retryOptions';

/** Every default of the s3 destination, in one place. */
export const S3_DEFAULTS = {
  prefix: '',
  region: 'us-east-1',
  forcePathStyle: false,
  parquetCompression: 'snappy' as ParquetCompression,
  requestTimeoutMs: 60_000,
  maxRetries: 5,
  backoffBaseMs: 200,
  backoffMaxMs: 20_000,
  backoffFactor: 2,
};

export interface S3Config {
  bucket: string;
  /** Key prefix, empty or ending with `/`. */
  prefix: string;
  region: string;
  /** An S3-compatible endpoint (MinIO, R2, a local server); AWS when unset. */
  endpoint?: string;
  forcePathStyle: boolean;
  /** Static credentials; the standard AWS chain (env, profile, instance role) when unset. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Parquet column compression (only used when the format is parquet). */
  parquetCompression: ParquetCompression;
  requestTimeoutMs: number;
  retry: RetryPolicy;
  fields: { bucket: string; endpoint: string; credentials: string };
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Parses the options of an s3 destination: `bucket` (required), `prefix`, `region`, `endpoint`,
 * `force_path_style`, `access_key_id`/`secret_access_key`/`session_token`, `format`, `compression`
 * (parquet), `request_timeout`, and the retry options. `path` is the options' field path.
 */
export function parseS3Config(options: OptionMap, path: string): S3Config {
  const r = new OptionReader(options, path);
  const d = S3_DEFAULTS;
  const bucket = r.required('bucket', 'set bucket to the name of an existing bucket');
  if (!BUCKET.test(bucket)) throw invalidArgument(r.field('bucket'), `"${bucket}" is not a valid bucket name`, 'use 3-63 lower-case letters, digits, . and -');
  let prefix = (r.raw('prefix') ?? d.prefix).replace(/^\/+/, '');
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
  const region = r.string('region', awsRegionFromEnv() ?? d.region);
  const endpoint = r.optionalString('endpoint');
  if (endpoint !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(endpoint);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw invalidArgument(
        r.field('endpoint'),
        'is not an http(s) URL',
        'use e.g. http://localhost:9000 for an S3-compatible server, or leave it unset for AWS',
      );
    }
  }
  const forcePathStyle = r.bool('force_path_style', d.forcePathStyle);
  const accessKeyId = r.optionalString('access_key_id');
  const secretAccessKey = r.optionalString('secret_access_key');
  const sessionToken = r.optionalString('session_token');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined) || (sessionToken !== undefined && accessKeyId === undefined)) {
    throw invalidArgument(
      r.field(accessKeyId === undefined ? 'access_key_id' : 'secret_access_key'),
      'must be set together with the other key',
      'set both access_key_id and secret_access_key, or neither to use the standard AWS credential chain',
    );
  }
  const format = r.raw('format');
  if (format !== undefined) parseWireFormat(format, r.field('format'));
  const compression = r.raw('compression');
  const parquetCompression = compression === undefined ? d.parquetCompression : parseParquetCompression(compression, r.field('compression'));
  const requestTimeoutMs = r.durationMs('request_timeout', d.requestTimeoutMs, { minMs: 100 });
  const retry = readRetryOptions(r, d);
  r.rejectUnknown();
  return {
    bucket,
    prefix,
    region,
    endpoint,
    forcePathStyle,
    parquetCompression,
    requestTimeoutMs,
    retry,
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } : undefined,
    fields: { bucket: r.field('bucket'), endpoint: r.field('endpoint'), credentials: r.field('access_key_id') },
  };
}
