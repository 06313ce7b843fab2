import { Binary, Bool, DataType, DateDay, Decimal, Field, Float64, Int16, Int32, Int64, List, TimeMicrosecond, TimestampMicrosecond, Utf8 } from 'apache-arrow';
import type { Change, Column, Value } from '../core/change';
import { isFlatArray, decimalToUnscaledFast, elementColumn, numericSpec, timeToMicros } from './values';

/**
 * PostgreSQL → Arrow type mapping (also Parquet's, which is written from the Arrow table):
 *
 * | PostgreSQL (ValueKind)                 | Arrow                                   | Parquet (via arrow-rs) |
 * |----------------------------------------|-----------------------------------------|------------------------|
 * | bool                                   | Bool                                    | BOOLEAN                |
 * | int2                                   | Int16                                   | INT32 (INT_16)         |
 * | int4                                   | Int32                                   | INT32                  |
 * | other `int` kinds (oid, xid, ...)      | Int64                                   | INT64                  |
 * | int8 (bigint)                          | Int64                                   | INT64                  |
 * | float4, float8                         | Float64 (float4 widened exactly)        | DOUBLE                 |
 * | numeric(p,s), 0 < p ≤ 38, 0 ≤ s ≤ p    | Decimal128(p, s)                        | DECIMAL(p,s)           |
 * | numeric unconstrained, p > 38, s < 0   | Utf8 (decimal text)                     | STRING                 |
 * | date                                   | Date32 (days)                           | DATE                   |
 * | timestamp                              | Timestamp(MICROSECOND)                  | TIMESTAMP(MICROS, local) |
 * | timestamptz                            | Timestamp(MICROSECOND, 'UTC')           | TIMESTAMP(MICROS, UTC) |
 * | time                                   | Time64(MICROSECOND)                     | TIME(MICROS)           |
 * | timetz, interval                       | Utf8 (PostgreSQL text)                  | STRING                 |
 * | bytea                                  | Binary                                  | BYTE_ARRAY             |
 * | json, jsonb                            | Utf8 (the stored JSON text)             | STRING                 |
 * | text, varchar, char, uuid, enum, other | Utf8                                    | STRING                 |
 * | one-dimensional arrays                 | List<element mapping> (nullable items)  | LIST                   |
 *
 * Fallback, decided per column and file: when any value of a column in the batch has no exact form
 * in its mapped type (numeric `NaN`/`Infinity` or more fraction digits than the scale, date or
 * timestamp `±infinity`, a multi-dimensional array, an array element that does not fit), the whole
 * column is written as Utf8 in that file: scalar values as their `Change` text, arrays as their JSON
 * text (json codec mapping). The field's metadata then says `ductstream.fallback` = `text` or `json`.
 * Every column field also carries `pg_type` (the formatted PostgreSQL type) in its metadata.
 */

export type ArrowMapping =
  | { kind: 'bool' }
  | { kind: 'int16' }
  | { kind: 'int32' }
  | { kind: 'int64' }
  | { kind: 'float64' }
  | { kind: 'decimal'; precision: number; scale: number }
  | { kind: 'date32' }
  | { kind: 'timestamp'; utc: boolean }
  | { kind: 'time64' }
  | { kind: 'utf8' }
  | { kind: 'binary' }
  | { kind: 'list'; element: ArrowMapping; elementColumn: Column }
  /** Utf8 fallback: `text` holds scalar values as they are, `json` holds arrays as JSON text. */
  | { kind: 'fallback'; text: 'text' | 'json' };

export const FALLBACK_KEY = 'ductstream.fallback';
export const PG_TYPE_KEY = 'pg_type';

/** The mapping of a column from the table alone (before looking at values). */
export function baseMapping(column: Column): ArrowMapping {
  switch (column.valueKind) {
    case 'bool':
      return { kind: 'bool' };
    case 'int':
      return column.pgType === 'int2' ? { kind: 'int16' } : column.pgType === 'int4' ? { kind: 'int32' } : { kind: 'int64' };
    case 'bigint':
      return { kind: 'int64' };
    case 'float':
      return { kind: 'float64' };
    case 'numeric': {
      const spec = numericSpec(column);
      if (spec && spec.precision > 0 && spec.precision <= 38 && spec.scale >= 0 && spec.scale <= spec.precision) return { kind: 'decimal', ...spec };
      return { kind: 'utf8' };
    }
    case 'date':
      return { kind: 'date32' };
    case 'timestamp':
      return { kind: 'timestamp', utc: false };
    case 'timestamptz':
      return { kind: 'timestamp', utc: true };
    case 'time':
      return column.pgType === 'time' ? { kind: 'time64' } : { kind: 'utf8' };
    case 'bytes':
      return { kind: 'binary' };
    case 'array': {
      const el = elementColumn(column);
      const element = baseMapping(el);
      if (element.kind === 'list') return { kind: 'fallback', text: 'json' };
      return { kind: 'list', element, elementColumn: el };
    }
    default:
      return { kind: 'utf8' };
  }
}

const DATE_RE = /^([+-]\d{6}|\d{4})-\d{2}-\d{2}$/;
const TS_RE = /^([+-]\d{6}|\d{4})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z?$/;

/** Whether a non-null value has an exact form in `m` (values of the wrong JS type fail later, loudly). */
export function fits(m: ArrowMapping, value: Value): boolean {
  switch (m.kind) {
    case 'decimal':
      return typeof value !== 'string' || decimalToUnscaledFast(value, m) !== null;
    case 'date32':
      return typeof value !== 'string' || DATE_RE.test(value);
    case 'timestamp':
      return typeof value !== 'string' || (TS_RE.test(value) && value.endsWith('Z') === m.utc);
    case 'time64':
      return typeof value !== 'string' || timeToMicros(value) !== null;
    case 'list':
      if (!isFlatArray(value)) return !Array.isArray(value);
      for (const e of value) if (e !== null && !fits(m.element, e)) return false;
      return true;
    default:
      return true;
  }
}

/** Mapping of a column for one file: its base mapping unless a value forces the text fallback. */
export function fileMapping(column: Column, changes: readonly Change[]): ArrowMapping {
  const base = baseMapping(column);
  if (base.kind !== 'decimal' && base.kind !== 'date32' && base.kind !== 'timestamp' && base.kind !== 'time64' && base.kind !== 'list') return base;
  const fallback: ArrowMapping = { kind: 'fallback', text: column.valueKind === 'array' ? 'json' : 'text' };
  const name = column.name;
  for (const c of changes) {
    for (const row of [c.key, c.before, c.after]) {
      const v = row?.[name];
      if (v !== null && v !== undefined && !fits(base, v)) return fallback;
    }
  }
  return base;
}

export function arrowType(m: ArrowMapping): DataType {
  switch (m.kind) {
    case 'bool':
      return new Bool();
    case 'int16':
      return new Int16();
    case 'int32':
      return new Int32();
    case 'int64':
      return new Int64();
    case 'float64':
      return new Float64();
    case 'decimal':
      return new Decimal(m.scale, m.precision, 128);
    case 'date32':
      return new DateDay();
    case 'timestamp':
      return new TimestampMicrosecond(m.utc ? 'UTC' : null);
    case 'time64':
      return new TimeMicrosecond();
    case 'binary':
      return new Binary();
    case 'list':
      return new List(new Field('item', arrowType(m.element), true));
    default:
      return new Utf8();
  }
}

export function columnField(column: Column, m: ArrowMapping): Field {
  const meta = new Map([[PG_TYPE_KEY, column.formattedType]]);
  if (m.kind === 'fallback') meta.set(FALLBACK_KEY, m.text);
  return new Field(column.name, arrowType(m), true, meta);
}
