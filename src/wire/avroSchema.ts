import { createHash } from 'node:crypto';
import * as avro from 'avsc';
import type { Column, TableSchema } from '../core/change';
import { elementColumn, numericSpec } from './values';

/**
 * PostgreSQL → Avro type mapping (one table, used for every row field; every field is a union with
 * `null` first and default `null`):
 *
 * | PostgreSQL (ValueKind)               | Avro                                                        |
 * |--------------------------------------|-------------------------------------------------------------|
 * | bool                                 | boolean                                                     |
 * | int2, int4                           | int                                                         |
 * | other `int` kinds (oid, ...)         | long                                                        |
 * | int8                                 | long                                                        |
 * | float4, float8                       | double (float4 widened exactly; NaN, ±Infinity, -0 kept)    |
 * | numeric(p,s), p > 0, 0 ≤ s ≤ p       | bytes, logicalType decimal(p,s) — or string (fallback)      |
 * | numeric unconstrained, s < 0, s > p  | string (the exact decimal text)                             |
 * | date                                 | int, logicalType date — or string (fallback)                |
 * | timestamp                            | long, logicalType local-timestamp-micros — or string        |
 * | timestamptz                          | long, logicalType timestamp-micros — or string              |
 * | time                                 | long, logicalType time-micros — or string                   |
 * | timetz, interval                     | string (PostgreSQL text)                                    |
 * | uuid                                 | string, logicalType uuid                                    |
 * | bytea                                | bytes                                                       |
 * | json, jsonb                          | string (the stored JSON text)                               |
 * | text, varchar, char, enum, other     | string                                                      |
 * | one-dimensional arrays               | array of [null, element mapping] — or string (fallback)     |
 *
 * Fallback, per value: a value without an exact form in its Avro type (numeric `NaN`/`Infinity` or
 * more fraction digits than the scale, date/timestamp `±infinity`, a multi-dimensional array) is
 * written in the union's `string` branch: scalar values as their `Change` text, arrays as their JSON
 * text (json codec mapping). Nothing is rounded.
 *
 * Names: Avro names must match `[A-Za-z_][A-Za-z0-9_]*`. Other column names are rewritten (invalid
 * characters → `_`, a leading digit gets `_`, a clash with another field adds `_2`, `_3`...; valid names never change) and the field keeps the
 * original in a `pg_name` attribute; every field has `pg_type`. Record names: `ChangeEvent` and `Row`
 * in namespace `ductstream.<schema>.<table>` (sanitized the same way).
 */

export type AvroMapping =
  | { kind: 'boolean' | 'int' | 'long' | 'double' | 'string' | 'bytes' }
  | { kind: 'decimal'; precision: number; scale: number }
  | { kind: 'date' | 'time' }
  | { kind: 'timestamp'; utc: boolean }
  | { kind: 'array'; element: AvroMapping; elementColumn: Column };

export function avroMapping(column: Column): AvroMapping {
  switch (column.valueKind) {
    case 'bool':
      return { kind: 'boolean' };
    case 'int':
      return column.pgType === 'int2' || column.pgType === 'int4' ? { kind: 'int' } : { kind: 'long' };
    case 'bigint':
      return { kind: 'long' };
    case 'float':
      return { kind: 'double' };
    case 'numeric': {
      const spec = numericSpec(column);
      return spec && spec.precision > 0 && spec.scale >= 0 && spec.scale <= spec.precision ? { kind: 'decimal', ...spec } : { kind: 'string' };
    }
    case 'date':
      return { kind: 'date' };
    case 'timestamp':
      return { kind: 'timestamp', utc: false };
    case 'timestamptz':
      return { kind: 'timestamp', utc: true };
    case 'time':
      return column.pgType === 'time' ? { kind: 'time' } : { kind: 'string' };
    case 'bytes':
      return { kind: 'bytes' };
    case 'array': {
      const el = elementColumn(column);
      return { kind: 'array', element: avroMapping(el), elementColumn: el };
    }
    default:
      return { kind: 'string' };
  }
}

/** Whether values of this mapping may need the union's string branch. */
export function hasTextFallback(m: AvroMapping): boolean {
  return m.kind === 'decimal' || m.kind === 'date' || m.kind === 'time' || m.kind === 'timestamp' || m.kind === 'array';
}

type AvroSchemaJson = string | { [k: string]: unknown } | AvroSchemaJson[];

function baseSchema(m: AvroMapping, column: Column): AvroSchemaJson {
  switch (m.kind) {
    case 'decimal':
      return { type: 'bytes', logicalType: 'decimal', precision: m.precision, scale: m.scale };
    case 'date':
      return { type: 'int', logicalType: 'date' };
    case 'time':
      return { type: 'long', logicalType: 'time-micros' };
    case 'timestamp':
      return { type: 'long', logicalType: m.utc ? 'timestamp-micros' : 'local-timestamp-micros' };
    case 'array':
      return { type: 'array', items: unionOf(m.element, m.elementColumn) };
    case 'string':
      return column.pgType === 'uuid' ? { type: 'string', logicalType: 'uuid' } : 'string';
    default:
      return m.kind;
  }
}

function unionOf(m: AvroMapping, column: Column): AvroSchemaJson[] {
  const base = baseSchema(m, column);
  return hasTextFallback(m) ? ['null', base, 'string'] : ['null', base];
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

function sanitize(name: string): string {
  if (NAME_RE.test(name)) return name;
  const s = name.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z_]/.test(s) ? s : '_' + s;
}

/** Avro field name of every column, in column order: valid names are kept, others rewritten uniquely. */
export function avroFieldNames(columns: readonly Column[]): string[] {
  const used = new Set(columns.map((c) => c.name).filter((n) => NAME_RE.test(n)));
  return columns.map((c) => {
    if (NAME_RE.test(c.name)) return c.name;
    const base = sanitize(c.name);
    let name = base;
    for (let i = 2; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  });
}

/** The Avro schema (JSON) of change events of `table`. */
export function avroSchemaOf(table: TableSchema): { [k: string]: unknown } {
  const names = avroFieldNames(table.columns);
  const rowFields = table.columns.map((c, i) => ({
    name: names[i],
    type: unionOf(avroMapping(c), c),
    default: null,
    ...(names[i] !== c.name ? { pg_name: c.name } : {}),
    pg_type: c.formattedType,
  }));
  const strings = { type: 'array', items: 'string' };
  return {
    type: 'record',
    name: 'ChangeEvent',
    namespace: ['ductstream', sanitize(table.schema), sanitize(table.name)].join('.'),
    doc: `Change events of ${table.schema}.${table.name} (DuctStream)`,
    fields: [
      { name: 'op', type: { type: 'enum', name: 'Op', symbols: ['insert', 'update', 'delete', 'truncate', 'read'] } },
      { name: 'schema', type: 'string' },
      { name: 'table', type: 'string' },
      { name: 'key', type: { type: 'record', name: 'Row', fields: rowFields } },
      { name: 'key_columns', type: strings },
      { name: 'before', type: ['null', 'Row'], default: null },
      { name: 'after', type: ['null', 'Row'], default: null },
      { name: 'lsn', type: 'string' },
      { name: 'commit_lsn', type: 'string' },
      { name: 'commit_time', type: { type: 'long', logicalType: 'timestamp-micros' } },
      { name: 'xid', type: 'long' },
      { name: 'seq', type: 'long' },
      { name: 'unchanged_toast', type: strings },
    ],
  };
}

/** Avro `long` as a JS bigint (avsc's default refuses values beyond 2^53). */
export const BIGINT_LONG = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const b = Buffer.allocUnsafe(8);
    b.writeBigInt64LE(n);
    return b;
  },
  fromJSON: (v: unknown) => BigInt(v as string),
  toJSON: (n: bigint) => Number(n),
  isValid: (n: unknown) => typeof n === 'bigint',
  compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0),
});

/** An avsc Type for a schema, with longs as bigint. */
export function avroType(schema: unknown): avro.Type {
  // The registry covers plain `"long"`; the hook also covers `{"type": "long", "logicalType": ...}`.
  return avro.Type.forSchema(schema as avro.Schema, {
    registry: { long: BIGINT_LONG },
    typeHook: (s: unknown) => (typeof s === 'object' && s !== null && (s as { type?: unknown }).type === 'long' ? BIGINT_LONG : undefined),
  });
}

export interface CompiledAvro {
  schemaJson: string;
  type: avro.Type;
  fieldNames: string[];
  mappings: AvroMapping[];
  /** Deterministic container sync marker (derived from the schema). */
  sync: Buffer;
}

const compiled = new WeakMap<TableSchema, CompiledAvro>();

export function compileAvro(table: TableSchema): CompiledAvro {
  let c = compiled.get(table);
  if (!c) {
    const schema = avroSchemaOf(table);
    const schemaJson = JSON.stringify(schema);
    c = {
      schemaJson,
      type: avroType(schema),
      fieldNames: avroFieldNames(table.columns),
      mappings: table.columns.map(avroMapping),
      sync: createHash('sha256').update(schemaJson).digest().subarray(0, 16),
    };
    compiled.set(table, c);
  }
  return c;
}
