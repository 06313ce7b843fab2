import type { Column, Value, ValueKind } from '../core/change';
import { badPayload, badValue } from './envelope';
import { RawJson, type ParsedJson } from './jsonParse';

/**
 * The JSON value mapping (used by the json codec, and by the typed formats as the text fallback of
 * multi-dimensional arrays):
 *
 * | ValueKind                         | JSON                                                     |
 * |-----------------------------------|----------------------------------------------------------|
 * | bool                              | true / false                                             |
 * | int (int2, int4, oid)             | number                                                   |
 * | bigint (int8)                     | string of decimal digits (`"-9223372036854775808"`)      |
 * | float (float4, float8)            | number (`-0` kept); NaN/±Infinity → `"NaN"`, `"Infinity"`, `"-Infinity"` |
 * | numeric                           | string, the exact decimal text (`"NaN"`, `"Infinity"` too) |
 * | bytes (bytea)                     | string, standard base64                                  |
 * | json, jsonb (column)              | the JSON value itself: stored text spliced in, line breaks (insignificant whitespace) turned into spaces (*) |
 * | json, jsonb (array element)       | string holding the element's JSON text (an embedded `[..]` would be ambiguous with a nested array) |
 * | date, timestamp, timestamptz      | string, normalized text (src/core/time.ts)               |
 * | text, varchar, uuid, enum, time, timetz, interval, other | string, PostgreSQL text       |
 * | array                             | JSON array (nested for multi-dimensional), elements by `elementKind`, `null` elements |
 * | NULL                              | null                                                     |
 *
 * (*) A json/jsonb document that is exactly the JSON literal `null` is written as `null` and so reads
 * back as SQL NULL: the one case this format cannot tell apart. Typed formats carry json as text and
 * keep the difference.
 */

const LINE_BREAKS = /[\r\n]/g;

/** JSON text of one column value. */
export function encodeJsonValue(value: Value, column: Column): string {
  if (value === null) return 'null';
  if (column.valueKind === 'json' && typeof value === 'string') return value.replace(LINE_BREAKS, ' ');
  return encodeScalarOrArray(value, column.valueKind, column.elementKind, column);
}

function encodeScalarOrArray(value: Value, kind: ValueKind, elementKind: ValueKind | undefined, column: Column): string {
  if (value === null) return 'null';
  switch (kind) {
    case 'bool':
      if (typeof value !== 'boolean') throw badValue(column, value, 'json');
      return value ? 'true' : 'false';
    case 'int':
      if (typeof value === 'number' && Number.isInteger(value)) return String(value);
      if (typeof value === 'bigint') return value.toString();
      throw badValue(column, value, 'json');
    case 'bigint':
      if (typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value))) return '"' + value.toString() + '"';
      if (typeof value === 'string' && /^-?\d+$/.test(value)) return '"' + value + '"';
      throw badValue(column, value, 'json');
    case 'float':
      if (typeof value !== 'number') throw badValue(column, value, 'json');
      if (Number.isFinite(value)) return Object.is(value, -0) ? '-0' : String(value);
      return Number.isNaN(value) ? '"NaN"' : value > 0 ? '"Infinity"' : '"-Infinity"';
    case 'bytes':
      if (!Buffer.isBuffer(value)) throw badValue(column, value, 'json');
      return '"' + value.toString('base64') + '"';
    case 'array': {
      if (!Array.isArray(value)) throw badValue(column, value, 'json');
      const ek = elementKind ?? 'text';
      const parts = value.map((e) => (Array.isArray(e) ? encodeScalarOrArray(e, 'array', ek, column) : encodeScalarOrArray(e, ek, undefined, column)));
      return '[' + parts.join(',') + ']';
    }
    default:
      // numeric, text, json (as array element), date, timestamp(tz), time, interval: strings.
      if (typeof value !== 'string') throw badValue(column, value, 'json');
      return jsonString(value);
  }
}

/** Characters `JSON.stringify` may escape: controls, `"`, `\`, and surrogates (a lone one is escaped). */
// eslint-disable-next-line no-control-regex -- the control characters are exactly what JSON escapes
const MAY_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/;

/**
 * `JSON.stringify(s)` for a string, byte for byte: a string with nothing to escape (the common case:
 * numbers, dates, plain text) is just quoted, which costs about half the native call.
 */
export function jsonString(s: string): string {
  return MAY_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

/** Back from a parsed JSON value (json/jsonb columns arrive as RawJson) to the `Change` value form. */
export function decodeJsonValue(parsed: ParsedJson, column: Column, format = 'json'): Value {
  if (parsed === null) return null;
  if (column.valueKind === 'json') {
    if (parsed instanceof RawJson) return parsed.text === 'null' ? null : parsed.text;
    throw badPayload(format, `column "${column.name}": expected embedded JSON`);
  }
  return decodeScalarOrArray(parsed, column.valueKind, column.elementKind, column, format);
}

function decodeScalarOrArray(parsed: ParsedJson, kind: ValueKind, elementKind: ValueKind | undefined, column: Column, format: string): Value {
  if (parsed === null) return null;
  const fail = (): never => {
    throw badPayload(format, `column "${column.name}": unexpected JSON value for ${kind}`);
  };
  switch (kind) {
    case 'bool':
      return typeof parsed === 'boolean' ? parsed : fail();
    case 'int':
      return typeof parsed === 'number' ? parsed : fail();
    case 'bigint':
      return typeof parsed === 'string' ? BigInt(parsed) : fail();
    case 'float':
      if (typeof parsed === 'number') return parsed;
      if (parsed === 'NaN' || parsed === 'Infinity' || parsed === '-Infinity') return Number(parsed);
      return fail();
    case 'bytes':
      return typeof parsed === 'string' ? Buffer.from(parsed, 'base64') : fail();
    case 'array': {
      if (!Array.isArray(parsed)) return fail();
      const ek = elementKind ?? 'text';
      return parsed.map((e) =>
        Array.isArray(e) ? decodeScalarOrArray(e, 'array', ek, column, format) : decodeScalarOrArray(e, ek, undefined, column, format),
      );
    }
    default:
      return typeof parsed === 'string' ? parsed : fail();
  }
}

/** Fallback text of a value a typed format cannot hold (multi-dimensional arrays): its JSON text. */
export function jsonFallbackText(value: Value, column: Column): string {
  return encodeJsonValue(value, column);
}
