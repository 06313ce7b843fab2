import type { Column } from '../../core/change';

/**
 * A destination column type independent of any warehouse: what the shared SQL layer loads and
 * what each dialect names (`SqlDialect.typeName`). Every kind holds its source values exactly.
 */
export type LogicalType =
  | { kind: 'boolean' }
  | { kind: 'smallint' }
  | { kind: 'integer' }
  | { kind: 'bigint' }
  | { kind: 'real' }
  | { kind: 'double' }
  | { kind: 'decimal'; precision: number; scale: number }
  | { kind: 'text' }
  | { kind: 'blob' }
  | { kind: 'json' }
  | { kind: 'uuid' }
  | { kind: 'date' }
  | { kind: 'timestamp' }
  | { kind: 'timestamptz' }
  | { kind: 'time' }
  | { kind: 'timetz' }
  | { kind: 'interval' }
  /** A WAL position: an unsigned 64-bit integer (metadata columns only). */
  | { kind: 'lsn' }
  | { kind: 'list'; element: LogicalType };

export type LogicalKind = LogicalType['kind'];

export const TEXT: LogicalType = { kind: 'text' };
export const BLOB: LogicalType = { kind: 'blob' };

/**
 * PostgreSQL type name (`pg_type.typname`, without `pg_catalog.`) → logical type. Types not
 * listed here (enums, domains over text, inet, money, extension types such as `public.geometry`)
 * become `text`: their PostgreSQL text form, kept exactly.
 */
const SCALARS: Record<string, LogicalType> = {
  bool: { kind: 'boolean' },
  int2: { kind: 'smallint' },
  int4: { kind: 'integer' },
  int8: { kind: 'bigint' },
  oid: { kind: 'bigint' },
  float4: { kind: 'real' },
  float8: { kind: 'double' },
  text: TEXT,
  varchar: TEXT,
  bpchar: TEXT,
  char: TEXT,
  name: TEXT,
  bytea: BLOB,
  json: { kind: 'json' },
  jsonb: { kind: 'json' },
  uuid: { kind: 'uuid' },
  date: { kind: 'date' },
  timestamp: { kind: 'timestamp' },
  timestamptz: { kind: 'timestamptz' },
  time: { kind: 'time' },
  timetz: { kind: 'timetz' },
  interval: { kind: 'interval' },
};

export interface TypeMappingLimits {
  /** Largest DECIMAL precision the destination stores exactly (DuckDB and Snowflake: 38). */
  maxDecimalPrecision: number;
}

/**
 * The logical type of a source column. `numeric(p,s)` becomes `decimal(p,s)` when
 * 0 ≤ s ≤ p ≤ `maxDecimalPrecision`; any other numeric (unconstrained, wider, negative scale)
 * becomes `text` holding the exact decimal text, so no digit is ever lost. Arrays (`_int4`)
 * become a list of their element's type.
 */
export function logicalTypeOf(column: Pick<Column, 'pgType' | 'typmod' | 'formattedType' | 'valueKind'>, limits: TypeMappingLimits): LogicalType {
  const name = baseTypeName(column.pgType);
  if (column.valueKind === 'array') {
    const dot = name.lastIndexOf('.');
    const last = name.slice(dot + 1);
    const element = name.slice(0, dot + 1) + (last.startsWith('_') ? last.slice(1) : last);
    return { kind: 'list', element: scalarType(element, column.typmod, column.formattedType, limits) };
  }
  return scalarType(name, column.typmod, column.formattedType, limits);
}

function scalarType(name: string, typmod: number, formatted: string, limits: TypeMappingLimits): LogicalType {
  if (name === 'numeric') {
    const ps = numericPrecisionScale(typmod, formatted);
    if (ps && ps.scale >= 0 && ps.scale <= ps.precision && ps.precision <= limits.maxDecimalPrecision) {
      return { kind: 'decimal', precision: ps.precision, scale: ps.scale };
    }
    return TEXT;
  }
  return SCALARS[name] ?? TEXT;
}

/** `pg_catalog.int4` → `int4`; other schemas are kept (`public.mood`). */
export function baseTypeName(pgType: string): string {
  const t = pgType.trim().toLowerCase();
  return t.startsWith('pg_catalog.') ? t.slice('pg_catalog.'.length) : t;
}

/**
 * Precision and scale of a `numeric` column from its typmod (PostgreSQL packs
 * `((precision << 16) | scale) + 4`, scale as an 11-bit signed number), or from `numeric(p,s)`
 * text when the typmod is unknown. Undefined for an unconstrained numeric.
 */
export function numericPrecisionScale(typmod: number, formatted: string): { precision: number; scale: number } | undefined {
  if (typmod >= 4) {
    const t = typmod - 4;
    const precision = (t >> 16) & 0xffff;
    const scale = ((t & 0x7ff) ^ 1024) - 1024;
    return { precision, scale };
  }
  const m = /numeric\s*\(\s*(\d+)\s*(?:,\s*(-?\d+)\s*)?\)/i.exec(formatted);
  if (!m) return undefined;
  return { precision: Number(m[1]), scale: m[2] === undefined ? 0 : Number(m[2]) };
}

/** A readable name for errors and docs: `decimal(30,10)`, `list<timestamptz>`. */
export function describeLogicalType(t: LogicalType): string {
  if (t.kind === 'decimal') return `decimal(${t.precision},${t.scale})`;
  if (t.kind === 'list') return `list<${describeLogicalType(t.element)}>`;
  return t.kind;
}
