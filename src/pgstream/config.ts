import { OptionReader, type OptionMap } from '../config/options';
import { invalidArgument } from '../core/errors';
import type { Endpoint } from '../core/flow';
import type { WireFormat } from '../wire/codec';
import { parseWireFormat } from '../wire/registry';

/** The pgstream destination's options (docs/usage.md, "pgstream"), typed. */
export interface PgstreamConfig {
  /** A postgres:// URL: where the stream's tables live (schema `ductstream_stream`). */
  dsn: string;
  /** Field path of `dsn`, for errors found when connecting. */
  dsnField: string;
  /** The stream name; unset means the destination's name (see {@link streamNameOf}). */
  stream?: string;
  /** `options.format` when given; the flow's resolved wire format is what the destination uses. */
  format?: WireFormat;
  /** Delete events every consumer group has acked (they can no longer be replayed). */
  trimAcked: boolean;
  /** Least time between two trims, in ms (a trim runs after a write). */
  trimIntervalMs: number;
}

/** Every default of the pgstream options, in one place. */
export const PGSTREAM_DEFAULTS = {
  format: 'json' as WireFormat,
  trimAcked: false,
  trimIntervalMs: 60_000,
};

const STREAM_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** Parses the options of a pgstream destination; `path` is their field path. Unknown keys are rejected. */
export function parsePgstreamConfig(options: OptionMap, path: string): PgstreamConfig {
  const r = new OptionReader(options, path);
  const dsn = r.required('dsn', 'set dsn to the PostgreSQL URL that holds the stream, e.g. postgres://user:pass@host:5432/db');
  if (!/^postgres(ql)?:\/\//i.test(dsn)) throw invalidArgument(r.field('dsn'), 'is not a postgres:// URL', 'use postgres://user:pass@host:5432/db');
  try {
    new URL(dsn);
  } catch {
    throw invalidArgument(r.field('dsn'), 'is not a valid URL', 'use postgres://user:pass@host:5432/db (percent-encode special characters)');
  }
  const stream = r.optionalString('stream');
  if (stream !== undefined && !STREAM_NAME.test(stream)) {
    throw invalidArgument(r.field('stream'), `"${stream}" is not a valid stream name`, 'use letters, digits, _ . : - (at most 128)');
  }
  const formatText = r.optionalString('format');
  const format = formatText === undefined ? undefined : parseWireFormat(formatText, r.field('format'));
  const trimAcked = r.bool('trim_acked', PGSTREAM_DEFAULTS.trimAcked);
  const trimIntervalMs = r.durationMs('trim_interval', PGSTREAM_DEFAULTS.trimIntervalMs, { minMs: 0 });
  r.rejectUnknown();
  return { dsn, dsnField: r.field('dsn'), stream, format, trimAcked, trimIntervalMs };
}

/** The stream a pgstream destination writes: its `stream` option, else the destination's name. */
export function streamNameOf(config: Pick<PgstreamConfig, 'stream'>, destinationName: string): string {
  return config.stream ?? destinationName;
}

/** The stream and DSN of a flow endpoint of type pgstream (its options are parsed, so it must be valid). */
export function pgstreamTargetOf(endpoint: Endpoint, path: string): { stream: string; dsn: string } {
  const config = parsePgstreamConfig(endpoint.options, path);
  return { stream: streamNameOf(config, endpoint.name), dsn: config.dsn };
}
