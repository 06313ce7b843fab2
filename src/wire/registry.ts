import { DuctError, invalidArgument } from '../core/errors';
import { WIRE_FORMATS, isWireFormat, type Codec, type WireFormat } from './codec';

/**
 * The codec registry and the wire-format rules every caller shares:
 * - `getCodec(format, options)` loads a codec module on first use only, so a flow that speaks json
 *   never loads apache-arrow, parquet-wasm, avsc or protobufjs;
 * - `parseWireFormat` turns user input into a format or rejects it naming the field and the allowed list;
 * - `resolveWireFormat` is the resolution order: destination `options.format` → `flow.wire_format`
 *   → `DUCTSTREAM_WIRE_FORMAT` → `json`;
 * - `assertFormatAllowed` is the `DUCTSTREAM_WIRE_ENFORCE` rule for one destination.
 */

export const PARQUET_COMPRESSIONS = ['snappy', 'zstd', 'gzip', 'brotli', 'lz4', 'none'] as const;
export type ParquetCompression = (typeof PARQUET_COMPRESSIONS)[number];

export interface CodecOptions {
  /** Parquet column compression; default `snappy`. Ignored by other formats. */
  compression?: ParquetCompression;
}

const cache = new Map<string, Codec>();

/** The codec of `format`; memoized per format and options. */
export function getCodec(format: WireFormat, options: CodecOptions = {}): Codec {
  const compression = format === 'parquet' ? (options.compression ?? 'snappy') : undefined;
  const cacheKey = compression ? `${format}:${compression}` : format;
  let codec = cache.get(cacheKey);
  if (codec) return codec;
  // require() inside the switch keeps each format's library unloaded until a flow asks for it.
  switch (format) {
    case 'json':
      codec = (require('./json') as typeof import('./json')).jsonCodec;
      break;
    case 'arrow':
      codec = (require('./arrow') as typeof import('./arrow')).arrowCodec;
      break;
    case 'parquet':
      codec = (require('./parquet') as typeof import('./parquet')).createParquetCodec({ compression: compression! });
      break;
    case 'avro':
      codec = (require('./avro') as typeof import('./avro')).avroCodec;
      break;
    case 'proto':
      codec = (require('./proto') as typeof import('./proto')).protoCodec;
      break;
    default: {
      const never: never = format;
      return parseWireFormat(never, 'format') as never;
    }
  }
  cache.set(cacheKey, codec);
  return codec;
}

/** `value` as a wire format (case and surrounding spaces ignored), or a DuctError naming `field`. */
export function parseWireFormat(value: unknown, field: string): WireFormat {
  const text = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if (isWireFormat(text)) return text;
  const shown = typeof value === 'string' ? `"${value}"` : String(value);
  throw invalidArgument(field, `unknown wire format ${shown}`, `use one of: ${WIRE_FORMATS.join(', ')}`);
}

/** `value` as a Parquet compression (`uncompressed` is accepted for `none`). */
export function parseParquetCompression(value: unknown, field: string): ParquetCompression {
  const text = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if (text === 'uncompressed') return 'none';
  if ((PARQUET_COMPRESSIONS as readonly string[]).includes(text)) return text as ParquetCompression;
  const shown = typeof value === 'string' ? `"${value}"` : String(value);
  throw invalidArgument(field, `unknown parquet compression ${shown}`, `use one of: ${PARQUET_COMPRESSIONS.join(', ')}`);
}

export interface WireFormatFields {
  destination: string;
  flow: string;
  service: string;
}

const DEFAULT_FIELDS: WireFormatFields = { destination: 'options.format', flow: 'wire_format', service: 'DUCTSTREAM_WIRE_FORMAT' };

/**
 * The format a destination uses: its own `options.format`, else the flow's `wire_format`, else the
 * service default (`DUCTSTREAM_WIRE_FORMAT`), else json. Empty or blank values count as unset; an
 * unknown name at any level is rejected (not skipped), naming that level's field.
 */
export function resolveWireFormat(
  destinationFormat?: string | null,
  flowFormat?: string | null,
  serviceDefault?: string | null,
  fields: Partial<WireFormatFields> = {},
): WireFormat {
  const f = { ...DEFAULT_FIELDS, ...fields };
  const levels: [string | null | undefined, string][] = [
    [destinationFormat, f.destination],
    [flowFormat, f.flow],
    [serviceDefault, f.service],
  ];
  let resolved: WireFormat | undefined;
  for (const [value, field] of levels) {
    if (value === undefined || value === null || value.trim() === '') continue;
    const format = parseWireFormat(value, field);
    resolved ??= format;
  }
  return resolved ?? 'json';
}

/**
 * The `DUCTSTREAM_WIRE_ENFORCE` rule: when enforcement is on, a destination whose resolved format
 * differs from the service's is rejected with an error naming the destination and `field`
 * (e.g. `destinations[1].options.format`). Nothing happens when enforcement is off.
 */
export function assertFormatAllowed(opts: { resolved: WireFormat; serviceFormat: WireFormat; enforce: boolean; destinationName: string; field: string }): void {
  if (!opts.enforce || opts.resolved === opts.serviceFormat) return;
  throw new DuctError(
    'invalid_argument',
    `${opts.field}: destination "${opts.destinationName}" would use wire format "${opts.resolved}" but DUCTSTREAM_WIRE_ENFORCE requires the service format "${opts.serviceFormat}"`,
    { field: opts.field, retry: 'never', hint: `remove the format override or set it to "${opts.serviceFormat}"` },
  );
}
