/**
 * Canonical value forms, so that rows read back from any store compare with the rows the changes
 * imply: every value becomes an exact string (or null, or an array of them) that does not depend
 * on how the store spells it. Temporal values become integers (days, microseconds, interval parts);
 * bytes become hex; numbers keep every digit.
 *
 * | value kind          | canonical form                                     |
 * |---------------------|----------------------------------------------------|
 * | bool                | `true` / `false`                                   |
 * | int, bigint         | decimal integer                                    |
 * | float               | JS number text (`NaN`, `Infinity`, `-0` kept)      |
 * | numeric             | the exact decimal text (`NaN`, `Infinity` kept)    |
 * | text, json          | the text as is                                     |
 * | bytes               | lower-case hex                                     |
 * | date                | days since 1970-01-01, or `infinity`/`-infinity`   |
 * | timestamp(tz)       | microseconds since 1970-01-01 UTC, or ±infinity    |
 * | time                | microseconds since midnight                        |
 * | timetz              | microseconds since midnight, `@`, offset seconds   |
 * | interval            | `months|days|micros`                               |
 * | array               | array of the element's canonical forms             |
 */
import type { Column, Row, TableSchema, Value, ValueKind } from '../../src/core/change';
import { parseDateDays, parseInterval, parseTimeMicros, parseTimestampMicros, parseTimeTz } from '../../src/destinations/sql/pg-text';

export type Canon = string | null | Canon[];
/** A row in canonical form; a column absent from the row was never written (e.g. TOAST with no earlier image). */
export type CanonicalRow = Record<string, Canon>;

/** The parts of a column that decide its canonical form. */
export type CanonColumn = Pick<Column, 'name' | 'pgType' | 'valueKind' | 'elementKind'>;

export function isTimeTz(column: Pick<Column, 'pgType'>): boolean {
  return /(^|\.)_?timetz$/.test(column.pgType);
}

function numberText(n: number): string {
  return Object.is(n, -0) ? '-0' : String(n);
}

function hexOf(v: Value): string {
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  const s = String(v);
  return (s.startsWith('\\x') ? s.slice(2) : s).toLowerCase();
}

function scalar(v: Exclude<Value, null | Value[]>, kind: ValueKind, timetz: boolean): string {
  switch (kind) {
    case 'bool':
      return typeof v === 'boolean' ? String(v) : ['t', 'true', '1'].includes(String(v).toLowerCase()) ? 'true' : 'false';
    case 'int':
    case 'bigint':
      return typeof v === 'string' ? BigInt(v).toString() : String(v);
    case 'float':
      return numberText(typeof v === 'number' ? v : Number(String(v)));
    case 'bytes':
      return hexOf(v);
    case 'date':
      return String(parseDateDays(String(v)) ?? `unparsed date ${String(v)}`);
    case 'timestamp':
    case 'timestamptz':
      return String(parseTimestampMicros(String(v)) ?? `unparsed timestamp ${String(v)}`);
    case 'time': {
      if (timetz) {
        const t = parseTimeTz(String(v));
        return t ? `${t.micros}@${t.offsetSeconds}` : `unparsed timetz ${String(v)}`;
      }
      return String(parseTimeMicros(String(v)) ?? `unparsed time ${String(v)}`);
    }
    case 'interval': {
      const i = parseInterval(String(v));
      return i ? `${i.months}|${i.days}|${i.micros}` : `unparsed interval ${String(v)}`;
    }
    default:
      return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  }
}

/** The canonical form of a value in `Change` conventions (see `ValueKind`). */
export function canonicalValue(v: Value | undefined, column: CanonColumn): Canon {
  if (v === null || v === undefined) return null;
  const timetz = isTimeTz(column);
  if (column.valueKind === 'array') {
    if (!Array.isArray(v)) return `not an array: ${String(v)}`;
    const element: CanonColumn = { name: column.name, pgType: column.pgType.replace(/_([^._]+)$/, '$1'), valueKind: column.elementKind ?? 'text' };
    return v.map((e) => canonicalValue(e, element));
  }
  if (Array.isArray(v)) return v.map((e) => canonicalValue(e, column));
  return scalar(v, column.valueKind, timetz);
}

/** The canonical form of a row image; columns absent from `row` stay absent. */
export function canonicalRow(row: Row, schema: TableSchema): CanonicalRow {
  const out: CanonicalRow = {};
  for (const c of schema.columns) if (c.name in row && row[c.name] !== undefined) out[c.name] = canonicalValue(row[c.name], c);
  return out;
}

/** The identity of a row: its primary key values (canonical), as text. */
export function rowKeyOf(row: CanonicalRow, schema: TableSchema): string {
  const cols = schema.primaryKey.length > 0 ? schema.primaryKey : schema.columns.map((c) => c.name);
  return JSON.stringify(cols.map((c) => row[c] ?? null));
}

/** Rows sorted by key, for stable comparisons. */
export function sortedRows(rows: Iterable<CanonicalRow>, schema: TableSchema): CanonicalRow[] {
  return [...rows].sort((a, b) => {
    const ka = rowKeyOf(a, schema);
    const kb = rowKeyOf(b, schema);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}
