import { OptionReader, type OptionMap } from '../../config/options';
import { invalidArgument } from '../../core/errors';
import type { RetryPolicy } from '../../core/retry';
import { parseWireFormat } from '../../wire/registry';
import { readRetryOptions } from '../retryOptions';
import { parseRegistryUrl } from '../schemaRegistry';
import { parseHeaderList, type HeaderPair } from './headers';

export const HTTP_METHODS = ['POST', 'PUT', 'PATCH'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];
export const HTTP_MODES = ['change', 'batch'] as const;
export type HttpMode = (typeof HTTP_MODES)[number];

/** Every default of the http destination, in one place (docs/usage.md, "http"). */
export const HTTP_DEFAULTS = {
  method: 'POST' as HttpMethod,
  idempotencyHeader: 'Idempotency-Key',
  mode: 'change' as HttpMode,
  timeoutMs: 10_000,
  maxRetries: 5,
  backoffBaseMs: 200,
  backoffMaxMs: 30_000,
  backoffFactor: 2,
};

export interface HttpConfig {
  url: URL;
  method: HttpMethod;
  /** Extra request headers from `headers` (values are secrets: never logged or shown). */
  headers: HeaderPair[];
  idempotencyHeader: string;
  /** `change`: one request per change (default); `batch`: one request per table per batch. */
  mode: HttpMode;
  timeoutMs: number;
  retry: RetryPolicy;
  /** Base URL of a Confluent-compatible schema registry (`schema_registry_url`): avro/proto bodies are framed with its ids. */
  schemaRegistryUrl?: string;
  fields: { url: string; schemaRegistryUrl: string };
}

/**
 * Parses the options of an http destination: `url` (required), `method`, `format`, `headers`
 * (`Key:Value,...`), `max_retries`, `backoff_base`, `backoff_max`, `backoff_factor`,
 * `idempotency_header`, `timeout` (per request), `mode` (`change` | `batch`) and
 * `schema_registry_url` (change mode with avro or proto only). `path` is the
 * options' field path, e.g. `destinations[0].options`. Errors never echo a header value or a URL's
 * credentials.
 */
export function parseHttpConfig(options: OptionMap, path: string): HttpConfig {
  const r = new OptionReader(options, path);
  const d = HTTP_DEFAULTS;
  const url = parseUrl(r.required('url', 'set url to the webhook endpoint, e.g. https://api.example.com/cdc'), r.field('url'));
  const method = (r.raw('method') ?? d.method).toUpperCase();
  if (!(HTTP_METHODS as readonly string[]).includes(method))
    throw invalidArgument(r.field('method'), `"${method}" is not allowed`, `use one of: ${HTTP_METHODS.join(', ')}`);
  const format = r.raw('format');
  if (format !== undefined) parseWireFormat(format, r.field('format'));
  const idempotencyHeader = r.string('idempotency_header', d.idempotencyHeader);
  const headers = parseHeaderList(r.raw('headers') ?? '', r.field('headers'), [idempotencyHeader]);
  checkHeaderName(idempotencyHeader, r.field('idempotency_header'));
  const mode = r.oneOf('mode', HTTP_MODES, d.mode);
  const timeoutMs = r.durationMs('timeout', d.timeoutMs, { minMs: 1, maxMs: 600_000 });
  const retry = readRetryOptions(r, d);
  const registry = parseRegistryUrl(r.raw('schema_registry_url'), r.field('schema_registry_url'));
  if (registry !== undefined && mode === 'batch')
    throw invalidArgument(
      r.field('schema_registry_url'),
      'applies to mode=change only (batch files carry their own schema)',
      'remove schema_registry_url or set mode to change',
    );
  r.rejectUnknown();
  return {
    url,
    method: method as HttpMethod,
    headers,
    idempotencyHeader,
    mode,
    timeoutMs,
    retry,
    ...(registry !== undefined ? { schemaRegistryUrl: registry } : {}),
    fields: { url: r.field('url'), schemaRegistryUrl: r.field('schema_registry_url') },
  };
}

function parseUrl(text: string, field: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalidArgument(field, 'is not a valid URL', 'use an absolute http:// or https:// URL, e.g. https://api.example.com/cdc');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalidArgument(field, `scheme "${url.protocol}" is not supported`, 'use an http:// or https:// URL');
  return url;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function checkHeaderName(name: string, field: string): void {
  if (!TOKEN.test(name)) throw invalidArgument(field, `"${name.slice(0, 40)}" is not a valid header name`, 'use letters, digits and - (e.g. Idempotency-Key)');
}

/** The URL as safe to show: scheme, host and path; credentials and query string left out. */
export function displayUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}
