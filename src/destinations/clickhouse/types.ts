import type { Column } from '../../core/change';
import type { QualifiedName, SqlSyntax, SqlTypes } from '../sql/dialect';
import type { LogicalType } from '../sql/types';

/** Widest `Decimal` ClickHouse stores exactly (Decimal256); wider numerics are kept as exact String text. */
export const CLICKHOUSE_MAX_DECIMAL = 76;

/**
 * Logical type → ClickHouse type, before nullability (see {@link columnType}). Every mapping is
 * exact: `DateTime64(6, 'UTC')` for both timestamp kinds (timestamp without zone holds its wall
 * time as if UTC), `Date32`, `Decimal(p,s)` up to 76 digits, `UUID`, `Bool`, bytea as binary
 * `String`, json as its text in `String`; time, timetz and interval as PostgreSQL's text in
 * `String` (ClickHouse has no column type that holds them exactly). Array elements are Nullable.
 */
export function clickhouseTypeName(t: LogicalType): string {
  switch (t.kind) {
    case 'boolean':
      return 'Bool';
    case 'smallint':
      return 'Int16';
    case 'integer':
      return 'Int32';
    case 'bigint':
      return 'Int64';
    case 'real':
      return 'Float32';
    case 'double':
      return 'Float64';
    case 'decimal':
      return `Decimal(${t.precision}, ${t.scale})`;
    case 'text':
    case 'blob':
    case 'json':
    case 'time':
    case 'timetz':
    case 'interval':
      return 'String';
    case 'uuid':
      return 'UUID';
    case 'date':
      return 'Date32';
    case 'timestamp':
    case 'timestamptz':
      return "DateTime64(6, 'UTC')";
    case 'lsn':
      return 'UInt64';
    case 'list':
      return `Array(${t.element.kind === 'list' ? clickhouseTypeName(t.element) : `Nullable(${clickhouseTypeName(t.element)})`})`;
  }
}

/** Types that cannot (or need not) be wrapped in `Nullable`. */
const NOT_WRAPPED = /^(Nullable|Array|Map|Tuple|Variant|LowCardinality|JSON|Dynamic|Nested)\b/i;

/**
 * The column type in a table: key columns as they are; other nullable source columns wrapped in
 * `Nullable(…)`, except arrays, which become `Variant(Array(…))` so NULL stays apart from `[]`
 * (ClickHouse has no `Nullable(Array)`).
 */
export function columnType(type: string, source: Pick<Column, 'nullable'> | undefined, isKey: boolean): string {
  if (isKey || source === undefined || !source.nullable) return type;
  if (/^Array\b/.test(type)) return `Variant(${type})`;
  if (NOT_WRAPPED.test(type)) return type;
  return `Nullable(${type})`;
}

/** A ClickHouse identifier in backquotes. */
export const quoteIdent = (name: string): string => '`' + name.replace(/\\/g, '\\\\').replace(/`/g, '\\`') + '`';
/** A ClickHouse string literal. */
export const quoteString = (value: string): string => "'" + value.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";

/** ClickHouse types and syntax (identifiers in backquotes, strings with backslash escapes). */
export const clickhouseTypes: SqlTypes & SqlSyntax = {
  name: 'clickhouse',
  maxDecimalPrecision: CLICKHOUSE_MAX_DECIMAL,
  typeName: clickhouseTypeName,
  quoteIdent,
  quoteString,
  currentTimestamp: "now64(6, 'UTC')",
  nullSafeEquals: (a, b) => `isNotDistinctFrom(${a}, ${b})`,
  cast: (expr, type) => `CAST(${expr} AS ${type})`,
};

export function qualifiedName(t: QualifiedName): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
}
