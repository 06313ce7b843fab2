import type { EvolveTable } from '../sql/apply-strategy';
import { rebuildName } from '../sql/rebuild';
import type { ClickhouseConnection } from './client';
import type { ClickhouseApplyMode } from './config';
import { isVersioned } from './ddl';
import { ROW_DELETED_COLUMN, VERSION_COLUMN } from './rows';
import { columnType, qualifiedName, quoteIdent as q, quoteString } from './types';

/** A ClickHouse table's engine, sorting key and columns, as `system.tables`/`system.columns` say. */
export interface ClickhouseTableShape {
  engine: string;
  /** The ORDER BY columns in order (empty for `ORDER BY tuple()`). */
  sortingKey: string[];
  columns: Array<{ name: string; type: string }>;
}

/** The shape of `database.table`; undefined when it does not exist. */
export async function readTableShape(conn: ClickhouseConnection, t: { schema: string; name: string }): Promise<ClickhouseTableShape | undefined> {
  const tables = await conn.rows(`SELECT engine, sorting_key FROM system.tables WHERE database = ${quoteString(t.schema)} AND name = ${quoteString(t.name)}`);
  const first = tables[0];
  if (!first) return undefined;
  const columns = await conn.rows(
    `SELECT name, type FROM system.columns WHERE database = ${quoteString(t.schema)} AND table = ${quoteString(t.name)} ORDER BY position`,
  );
  return {
    engine: String(first.engine),
    sortingKey: parseSortingKey(String(first.sorting_key)),
    columns: columns.map((c) => ({ name: String(c.name), type: String(c.type) })),
  };
}

/**
 * `system.tables.sorting_key` → column names. ClickHouse reports the ORDER BY expression as it was
 * written: `(id)` for `ORDER BY (id)`, `code, id` or `(code, id)` for two columns, `` for
 * `tuple()`; identifiers are backquoted when they need it. Key columns are plain columns here.
 */
export function parseSortingKey(text: string): string[] {
  let s = text.trim();
  if (s === '' || s === 'tuple()') return [];
  if (s.startsWith('(') && s.endsWith(')') && closesAtEnd(s)) s = s.slice(1, -1).trim();
  return s.split(/,\s*/).map((p) => {
    const t = p.trim();
    return t.startsWith('`') && t.endsWith('`') ? t.slice(1, -1).replace(/\\(.)/g, '$1') : t;
  });
}

/** True when the parenthesis opening `s` is the one closing it. */
function closesAtEnd(s: string): boolean {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')' && --depth === 0) return i === s.length - 1;
  }
  return false;
}

/** `Nullable(T)` → `T` (a sorting-key column cannot be Nullable). */
function notNullable(type: string): string {
  const m = /^Nullable\((.*)\)$/.exec(type);
  return m ? m[1]! : type;
}

/**
 * Rebuilds a target-mode table whose ORDER BY no longer matches the source's primary key, or one
 * of whose key columns changes type (ClickHouse alters neither in place). The ORDER BY of a
 * `ReplacingMergeTree` is the key rows collapse on, so the new table is created with the new key
 * (`<table>__ds_rebuild`, same columns and types; the new key's columns lose `Nullable`, retyped
 * key columns take their new type), filled with the live rows (`FINAL`, deleted rows left out; the
 * version column is kept, so later changes still win), swapped in with `EXCHANGE TABLES` (atomic)
 * and the old table dropped. `retypes`: retyped key columns, not altered in place. Idempotent: a
 * leftover rebuild table is dropped first, and a table that has the key and types already is left
 * alone. Returns true when it rebuilt.
 */
export async function rebuildClickhouseTable(
  conn: ClickhouseConnection,
  input: EvolveTable,
  mode: ClickhouseApplyMode,
  retypes: ReadonlySet<string>,
): Promise<boolean> {
  const layout = input.layout;
  if (!layout || layout.mode !== 'target') return false;
  const tmp = rebuildName(input.table);
  await conn.command(`DROP TABLE IF EXISTS ${qualifiedName(tmp)}`);
  const shape = await readTableShape(conn, input.table);
  if (!shape) return false;
  const key = layout.key;
  const keys = new Set(key);
  const sources = new Map(layout.columns.map((c) => [c.name, c]));
  let differs = key.join('\u0000') !== shape.sortingKey.join('\u0000');
  const columns = shape.columns.map((c) => {
    const source = sources.get(c.name);
    let type = c.type;
    if (source && retypes.has(c.name)) type = columnType(source.ddlType, source.source, keys.has(c.name));
    else if (keys.has(c.name)) type = notNullable(c.type);
    if (type !== c.type && retypes.has(c.name)) differs = true;
    return { name: c.name, type, from: c.type };
  });
  if (!differs) return false;
  const versioned = isVersioned(layout, mode);
  const have = new Set(columns.map((c) => c.name));
  const defs = columns.map((c) => `${q(c.name)} ${c.type}`);
  if (versioned && !have.has(VERSION_COLUMN)) defs.push(`${q(VERSION_COLUMN)} UInt128`);
  if (versioned && !have.has(ROW_DELETED_COLUMN)) defs.push(`${q(ROW_DELETED_COLUMN)} UInt8`);
  const order = key.length > 0 ? `(${key.map(q).join(', ')})` : 'tuple()';
  const engine = versioned ? `ReplacingMergeTree(${q(VERSION_COLUMN)}, ${q(ROW_DELETED_COLUMN)})` : 'MergeTree';
  await conn.command(`CREATE TABLE ${qualifiedName(tmp)} (${defs.join(', ')}) ENGINE = ${engine} ORDER BY ${order}`);
  const replacing = /^Replacing/.test(shape.engine);
  const live = replacing && have.has(ROW_DELETED_COLUMN) ? ` WHERE ${q(ROW_DELETED_COLUMN)} = 0` : '';
  const list = columns.map((c) => q(c.name)).join(', ');
  const select = columns.map((c) => (c.type === c.from ? q(c.name) : `CAST(${q(c.name)} AS ${c.type})`)).join(', ');
  await conn.command(`INSERT INTO ${qualifiedName(tmp)} (${list}) SELECT ${select} FROM ${qualifiedName(input.table)}${replacing ? ' FINAL' : ''}${live}`);
  await conn.command(`EXCHANGE TABLES ${qualifiedName(input.table)} AND ${qualifiedName(tmp)}`);
  await conn.command(`DROP TABLE IF EXISTS ${qualifiedName(tmp)}`);
  return true;
}
