import type { Change, Row } from '../../core/change';
import { qualified, type SqlDialect } from './dialect';
import type { DataColumn, TableLayout } from './layout';
import { continuedChanges, keysOfChanges, needsHeldKeys, oldKeyOf, type HeldKeys } from './plan';
import { keyIdOf } from './row-key';
import type { LoadColumn, SqlSession } from './session';

/** Names of the session-private tables the keys and old rows are loaded into. */
const KEYS_TABLE = '__ds_keys';
const OLD_ROWS_TABLE = '__ds_old_rows';

/**
 * What the destination holds at the keys touched by `changes`, for planning key changes of a
 * DEFERRABLE key (a swap and a move into a free key look alike in the stream; the destination's
 * rows tell them apart): the keys it holds, and which {@link continuedChanges} find another row
 * than their full old row at their old key (the earlier write of their transaction moved it).
 * Undefined when the plan does not need it. Keys and old rows are loaded into load tables and
 * joined, so values of every type compare as the destination compares them.
 */
export async function heldKeys(session: SqlSession, d: SqlDialect, layout: TableLayout, changes: readonly Change[]): Promise<HeldKeys | undefined> {
  if (!needsHeldKeys(layout, changes)) return undefined;
  const keys = keysOfChanges(layout, changes);
  const idOf = keyIdOf(layout.key);
  const held = await matchingRows(session, d, layout, KEYS_TABLE, keys, [], 'EXISTS');
  const continued = continuedChanges(layout, changes);
  const old = continued.map((c): Row => ({ ...c.before, ...oldKeyOf(layout, c) }));
  const replaced = continued.length === 0 ? [] : await matchingRows(session, d, layout, OLD_ROWS_TABLE, old, layout.columns, 'NOT EXISTS');
  return { keys: new Set(held.map((i) => idOf(keys[i]!))), replaced: new Set(replaced.map((i) => continued[i]!)) };
}

/**
 * Loads `rows` (their key columns and `compared` columns) into load table `name` and returns the
 * indexes of the rows for which a target row with the same key and the same values in `compared`
 * (IS NOT DISTINCT FROM; a column a row lacks, an unchanged TOAST value, matches anything) exists
 * (`EXISTS`) or does not (`NOT EXISTS`).
 */
async function matchingRows(
  session: SqlSession,
  d: SqlDialect,
  layout: TableLayout,
  name: string,
  rows: Row[],
  compared: DataColumn[],
  test: 'EXISTS' | 'NOT EXISTS',
): Promise<number[]> {
  const keyColumns = layout.key.map((k) => layout.columns.find((c) => c.name === k)!);
  const valueColumns = compared.filter((c) => !layout.key.includes(c.name));
  const columns: LoadColumn[] = [
    { name: '__ds_ord', type: { kind: 'bigint' }, values: rows.map((_r, i) => BigInt(i)) },
    ...keyColumns.map((c, i) => ({ name: `__ds_k${i}`, type: c.load, values: rows.map((r) => r[c.name] ?? null) })),
    ...valueColumns.map((c, i) => ({ name: `__ds_v${i}`, type: c.load, values: rows.map((r) => r[c.name] ?? null) })),
  ];
  // Columns some row lacks get a flag: compared only where the row has a value.
  const partial = valueColumns.map((c) => rows.some((r) => r[c.name] === undefined));
  valueColumns.forEach((c, i) => {
    if (partial[i]) columns.push({ name: `__ds_h${i}`, type: { kind: 'boolean' }, values: rows.map((r) => r[c.name] !== undefined) });
  });
  const created = d.createLoadTable(
    name,
    columns.map((c) => ({ name: c.name, type: d.typeName(c.type) })),
  );
  await session.execute(created.sql);
  await session.load(created.table, columns, rows.length);
  const loaded = (c: DataColumn, col: string): string => (c.cast ? d.cast(`s.${d.quoteIdent(col)}`, c.ddlType) : `s.${d.quoteIdent(col)}`);
  const match = [
    ...keyColumns.map((c, i) => `t.${d.quoteIdent(c.name)} = ${loaded(c, `__ds_k${i}`)}`),
    ...valueColumns.map((c, i) => {
      const same = `t.${d.quoteIdent(c.name)} IS NOT DISTINCT FROM ${loaded(c, `__ds_v${i}`)}`;
      return partial[i] ? `(NOT s.${d.quoteIdent(`__ds_h${i}`)} OR ${same})` : same;
    }),
  ].join(' AND ');
  const out = await session.query(
    `SELECT s.${d.quoteIdent('__ds_ord')} AS ord FROM ${qualified(d, created.table)} AS s WHERE ${test} (SELECT 1 FROM ${qualified(d, layout.target)} AS t WHERE ${match})`,
  );
  await session.execute(d.dropTable(created.table));
  return out.map((r) => Number(r.ord));
}
