import {
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBIntervalValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTimeTZValue,
  DuckDBTimeValue,
  DuckDBUUIDValue,
  listValue,
  type DuckDBValue,
} from '@duckdb/node-api';
import type { Value } from '../../core/change';
import { DuctError } from '../../core/errors';
import { parseDateDays, parseInterval, parseScaledDecimal, parseTimeMicros, parseTimestampMicros, parseTimeTz } from '../sql/pg-text';
import { valueToText } from '../sql/text-values';
import { describeLogicalType, type LogicalType } from '../sql/types';

/** Converts one `Change` value to the DuckDB value of a column; throws a plain Error on bad input. */
export type ValueConverter = (v: Value) => DuckDBValue;

const UINT64_MAX = (1n << 64n) - 1n;

/**
 * The converter for a column of logical type `type`. Every conversion is exact: decimals as scaled
 * integers, dates and timestamps as day and microsecond counts computed from their text, intervals
 * as (months, days, micros). Out-of-range values (a timestamp past DuckDB's year 294247, a
 * numeric NaN in a DECIMAL column, digits beyond the column's precision) throw instead of
 * rounding or clamping.
 */
export function converterFor(type: LogicalType): ValueConverter {
  const convert = scalarConverter(type);
  return (v) => (v === null || v === undefined ? null : convert(v));
}

function scalarConverter(type: LogicalType): (v: Exclude<Value, null>) => DuckDBValue {
  switch (type.kind) {
    case 'boolean':
      return (v) => (typeof v === 'boolean' ? v : parseBool(String(v)));
    case 'smallint':
    case 'integer':
      return (v) => (typeof v === 'number' ? v : integerNumber(v));
    case 'bigint':
      return (v) => (typeof v === 'bigint' ? v : BigInt(typeof v === 'number' ? checkInteger(v) : String(v)));
    case 'lsn':
      return (v) => {
        const n = typeof v === 'bigint' ? v : BigInt(String(v));
        if (n < 0n || n > UINT64_MAX) throw new Error(`${n} is not an unsigned 64-bit LSN`);
        return n;
      };
    case 'real':
    case 'double':
      return (v) => (typeof v === 'number' ? v : Number(String(v)));
    case 'decimal':
      return decimalConverter(type.precision, type.scale);
    case 'text':
    case 'json':
      return (v) => (typeof v === 'string' ? v : valueToText(v)!);
    case 'blob':
      return (v) => new DuckDBBlobValue(Buffer.isBuffer(v) ? v : Buffer.from(String(v)));
    case 'uuid':
      return (v) => uuid(String(v));
    case 'date':
      return (v) => date(v);
    case 'timestamp':
      return (v) => new DuckDBTimestampValue(timestamp(v));
    case 'timestamptz':
      return (v) => new DuckDBTimestampTZValue(timestamp(v));
    case 'time':
      return (v) => {
        const micros = parseTimeMicros(String(v));
        if (micros === undefined || micros > 86_400_000_000n) throw new Error(`"${String(v)}" is not a time of day`);
        return new DuckDBTimeValue(micros);
      };
    case 'timetz':
      return (v) => {
        const t = parseTimeTz(String(v));
        if (!t || t.micros > 86_400_000_000n) throw new Error(`"${String(v)}" is not a time with time zone`);
        return DuckDBTimeTZValue.fromMicrosAndOffset(t.micros, t.offsetSeconds);
      };
    case 'interval':
      return (v) => {
        const i = parseInterval(String(v));
        if (!i) throw new Error(`"${String(v)}" is not an interval in PostgreSQL's postgres or iso_8601 style`);
        return new DuckDBIntervalValue(i.months, i.days, i.micros);
      };
    case 'list': {
      const element = converterFor(type.element);
      const nested = type.element.kind === 'list';
      return (v) => {
        if (!Array.isArray(v)) throw new Error(`expected an array for ${describeLogicalType(type)}, got ${typeof v}`);
        if (!nested && v.some(Array.isArray)) {
          throw new Error('multi-dimensional arrays do not fit a one-dimensional LIST column; map the type to VARCHAR or JSON with type_mappings');
        }
        return listValue(v.map(element));
      };
    }
  }
}

function parseBool(s: string): boolean {
  const l = s.toLowerCase();
  if (l === 't' || l === 'true') return true;
  if (l === 'f' || l === 'false') return false;
  throw new Error(`"${s}" is not a boolean`);
}

function checkInteger(n: number): number {
  if (!Number.isInteger(n)) throw new Error(`${n} is not an integer`);
  return n;
}

function integerNumber(v: Exclude<Value, null>): number {
  const n = Number(typeof v === 'bigint' ? v : String(v));
  return checkInteger(n);
}

function decimalConverter(precision: number, scale: number): (v: Exclude<Value, null>) => DuckDBValue {
  const limit = 10n ** BigInt(precision);
  return (v) => {
    const text = typeof v === 'number' ? numberText(v) : String(v);
    const scaled = parseScaledDecimal(text, scale);
    if (scaled === undefined) {
      throw new Error(
        `"${text}" does not fit DECIMAL(${precision},${scale}) exactly; map the column to VARCHAR with type_mappings (e.g. {"numeric": "VARCHAR"}) to keep such values`,
      );
    }
    if (scaled >= limit || scaled <= -limit) throw new Error(`"${text}" has more than ${precision} digits (DECIMAL(${precision},${scale}))`);
    return new DuckDBDecimalValue(scaled, precision, scale);
  };
}

function numberText(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const s = String(n);
  return /e/i.test(s) ? n.toFixed(20).replace(/0+$/, '') : s;
}

function uuid(s: string): DuckDBUUIDValue {
  const hex = s.replace(/[-{}]/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`"${s}" is not a UUID`);
  return DuckDBUUIDValue.fromUint128(BigInt('0x' + hex));
}

function date(v: Exclude<Value, null>): DuckDBDateValue {
  const days = parseDateDays(String(v));
  if (days === undefined) throw new Error(`"${String(v)}" is not a date`);
  if (days === 'infinity') return DuckDBDateValue.PosInf;
  if (days === '-infinity') return DuckDBDateValue.NegInf;
  return new DuckDBDateValue(days);
}

const TIMESTAMP_MAX = DuckDBTimestampValue.Max.micros;
const TIMESTAMP_MIN = DuckDBTimestampValue.Min.micros;

/** Microseconds since the epoch; a bigint input already is (metadata commit times). */
function timestamp(v: Exclude<Value, null>): bigint {
  if (typeof v === 'bigint') return v;
  const micros = parseTimestampMicros(String(v));
  if (micros === undefined) throw new Error(`"${String(v)}" is not a timestamp`);
  if (micros === 'infinity') return DuckDBTimestampValue.PosInf.micros;
  if (micros === '-infinity') return DuckDBTimestampValue.NegInf.micros;
  if (micros > TIMESTAMP_MAX || micros < TIMESTAMP_MIN) {
    throw new Error(`"${String(v)}" is outside DuckDB's timestamp range (290309 BC to 294247 AD); map the column to VARCHAR with type_mappings to keep it`);
  }
  return micros;
}

/** Wraps a conversion failure as a permanent DuctError naming the column. */
export function conversionError(column: string, type: LogicalType, e: unknown): DuctError {
  return new DuctError('destination_failed', `column "${column}" (${describeLogicalType(type)}): ${(e as Error).message}`, { retry: 'never', cause: e });
}
