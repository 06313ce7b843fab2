import { qualified, type QualifiedName, type SqlDialect } from './dialect';
import type { EvolveTable } from './apply-strategy';

/** A destination column as the catalog describes it (name and type in DDL spelling). */
export interface ExistingColumn {
  name: string;
  type: string;
}

/** What {@link planRebuild} decided: nothing to do, or the table to build in place of the old one. */
export interface Rebuild {
  /** The new table's columns in order; `cast` when the values must be converted on copy. */
  columns: Array<{ name: string; type: string; cast: boolean }>;
  /** The new primary key (empty: none). */
  key: string[];
}

/** Suffix of the table a rebuild fills before it takes the old table's place. */
export const REBUILD_SUFFIX = '__ds_rebuild';

export function rebuildName(t: QualifiedName): QualifiedName {
  return { schema: t.schema, name: `${t.name}${REBUILD_SUFFIX}` };
}

/**
 * The columns whose type a schema change alters but that a destination with key constraints
 * (DuckDB) cannot alter in place: those in the current or the new primary key.
 */
export function keyRetypes(input: EvolveTable, currentKey: readonly string[]): Set<string> {
  const keys = new Set([...currentKey, ...(input.layout?.constraintKey ?? [])]);
  const out = new Set<string>();
  for (const c of input.change.changes) if (c.kind === 'retype_column' && keys.has(c.column.name)) out.add(c.column.name);
  return out;
}

/**
 * Decides whether a table must be rebuilt: when its primary key differs from the new layout's
 * `constraintKey`, or when columns of `retypes` still have another type than the layout's. The
 * new table keeps every existing column in order (a dropped source column kept here, the metadata
 * columns) with its type, except layout columns of `retypes`, which take their new type. Returns
 * undefined when the table already has the key and types (an apply repeated after it completed).
 */
export function planRebuild(
  input: EvolveTable,
  existing: readonly ExistingColumn[],
  currentKey: readonly string[],
  retypes: ReadonlySet<string>,
): Rebuild | undefined {
  const layout = input.layout;
  if (!layout || existing.length === 0) return undefined;
  const key = layout.constraintKey;
  const types = new Map(layout.columns.map((c) => [c.name, c.ddlType]));
  let differs = key.join('\u0000') !== currentKey.join('\u0000');
  const columns = existing.map((c) => {
    const to = retypes.has(c.name) ? types.get(c.name) : undefined;
    if (to === undefined || sameType(to, c.type)) return { name: c.name, type: c.type, cast: false };
    differs = true;
    return { name: c.name, type: to, cast: true };
  });
  return differs ? { columns, key: [...key] } : undefined;
}

function sameType(a: string, b: string): boolean {
  return a.replace(/\s+/g, '').toUpperCase() === b.replace(/\s+/g, '').toUpperCase();
}

/**
 * The script that rebuilds `table` inside one transaction (DuckDB's DDL is transactional): a fresh
 * table with the new key and types, every row copied (converted where the type changed), the old
 * table dropped and the new one renamed into its place. A crash before COMMIT leaves the old table
 * as it was; a leftover rebuild table is dropped first, so the script can simply run again.
 */
export function rebuildStatements(d: SqlDialect, table: QualifiedName, plan: Rebuild): string[] {
  const tmp = rebuildName(table);
  const q = (n: string) => d.quoteIdent(n);
  const list = plan.columns.map((c) => q(c.name)).join(', ');
  const select = plan.columns.map((c) => (c.cast ? d.cast(q(c.name), c.type) : q(c.name))).join(', ');
  return [
    d.beginTransaction,
    d.dropTable(tmp),
    d.createTable(
      tmp,
      plan.columns.map((c) => ({ name: c.name, type: c.type })),
      plan.key,
    ),
    `INSERT INTO ${qualified(d, tmp)} (${list}) SELECT ${select} FROM ${qualified(d, table)}`,
    `DROP TABLE ${qualified(d, table)}`,
    `ALTER TABLE ${qualified(d, tmp)} RENAME TO ${q(table.name)}`,
    d.commit,
  ];
}
