import type { Column, TableRef, TableSchema } from './change';

/** One difference between two shapes of a source table. */
export type ColumnChange =
  | { kind: 'add_column'; column: Column }
  | { kind: 'drop_column'; column: Column }
  | { kind: 'rename_column'; from: string; column: Column }
  | { kind: 'retype_column'; from: Column; column: Column }
  | { kind: 'key_change'; from: string[]; to: string[] }
  | { kind: 'new_table' }
  | { kind: 'drop_table' };

export type ChangeKind = ColumnChange['kind'];

/**
 * A schema change of one source table, as destinations apply it (`SchemaEvolving`): the shape
 * before (null for a new table) and after (null for a dropped table) and the differences.
 */
export interface SchemaChange {
  table: TableRef;
  before: TableSchema | null;
  after: TableSchema | null;
  changes: ColumnChange[];
}

/** Widening conversions a destination can apply in place without losing values. */
const WIDENS: Record<string, string[]> = {
  int2: ['int4', 'int8', 'numeric', 'float8'],
  int4: ['int8', 'numeric', 'float8'],
  int8: ['numeric'],
  float4: ['float8'],
  varchar: ['text', 'varchar'],
  bpchar: ['text', 'varchar'],
  numeric: ['numeric'],
  timestamp: ['timestamptz'],
};

/** True when `to` holds every value of `from` (a wider type, or a longer/larger modifier). */
export function isWidening(from: Column, to: Column): boolean {
  if (from.pgType === to.pgType) {
    if (from.typmod === to.typmod) return true;
    if (to.typmod === -1) return true;
    if (from.typmod === -1) return false;
    if (from.pgType === 'numeric') {
      const p = (m: number) => ((m - 4) >> 16) & 0xffff;
      const s = (m: number) => (m - 4) & 0xffff;
      return p(to.typmod) - s(to.typmod) >= p(from.typmod) - s(from.typmod) && s(to.typmod) >= s(from.typmod);
    }
    return to.typmod >= from.typmod;
  }
  return (WIDENS[from.pgType] ?? []).includes(to.pgType);
}

/**
 * True when a destination can follow the change with no approval (gate off): everything but a
 * narrowing retype. A primary key change is followed without loss (table destinations re-key or
 * rebuild the table; Snowpipe refuses it until its target is re-keyed by hand, holding the table).
 */
export function isCompatible(c: ColumnChange): boolean {
  switch (c.kind) {
    case 'retype_column':
      return isWidening(c.from, c.column);
    default:
      return true;
  }
}

function sameType(a: Column, b: Column): boolean {
  return a.typeOid === b.typeOid && a.typmod === b.typmod;
}

/**
 * The differences from `before` to `after` (same table). Columns are matched by `attnum` when both
 * sides know it, so `ALTER TABLE ... RENAME COLUMN` is a rename, not a drop and an add; otherwise by
 * name. Nullability is not compared: it comes from the catalog at decode time, not from the WAL,
 * and destinations keep every column nullable.
 */
export function diffTableSchemas(before: TableSchema, after: TableSchema): ColumnChange[] {
  const out: ColumnChange[] = [];
  const matched = new Set<Column>();
  const byAttnum = new Map<number, Column>();
  const byName = new Map<string, Column>();
  for (const c of before.columns) {
    if (c.attnum !== undefined) byAttnum.set(c.attnum, c);
    byName.set(c.name, c);
  }
  for (const col of after.columns) {
    const sameName = byName.get(col.name);
    // Both sides know attnums: only the attnum identifies a column (a name dropped and re-added is a new column).
    const old =
      col.attnum !== undefined && sameName?.attnum !== undefined
        ? byAttnum.get(col.attnum)
        : (sameName ?? (col.attnum !== undefined ? byAttnum.get(col.attnum) : undefined));
    if (!old || matched.has(old)) {
      out.push({ kind: 'add_column', column: col });
      continue;
    }
    matched.add(old);
    if (old.name !== col.name) out.push({ kind: 'rename_column', from: old.name, column: col });
    if (!sameType(old, col)) out.push({ kind: 'retype_column', from: old, column: col });
  }
  for (const c of before.columns) if (!matched.has(c)) out.push({ kind: 'drop_column', column: c });
  if (before.primaryKey.join('\u0000') !== after.primaryKey.join('\u0000')) {
    out.push({ kind: 'key_change', from: [...before.primaryKey], to: [...after.primaryKey] });
  }
  return out;
}

/** The event's `kind`: the distinct change kinds, comma-separated, in first-seen order. */
export function kindOf(changes: readonly ColumnChange[]): string {
  return [...new Set(changes.map((c) => c.kind))].join(',');
}
