import type { Change } from '../../core/change';
import { qualified, type SqlDialect } from './dialect';
import type { TableLayout } from './layout';
import { keysOfChanges, needsHeldKeys } from './plan';
import { keyIdOf, type KeyId } from './row-key';
import type { LoadColumn, SqlSession } from './session';

/** Name of the session-private table the keys are loaded into. */
const KEYS_TABLE = '__ds_keys';

/**
 * Which keys touched by `changes` the destination holds, for planning key changes of a DEFERRABLE
 * key (a swap and a move into a free key look alike in the stream; the destination's rows tell
 * them apart). Undefined when the plan does not need it. The keys are loaded into a load table and
 * joined, so values of every type compare as the destination compares them.
 */
export async function heldKeys(session: SqlSession, d: SqlDialect, layout: TableLayout, changes: readonly Change[]): Promise<ReadonlySet<KeyId> | undefined> {
  if (!needsHeldKeys(layout, changes)) return undefined;
  const keys = keysOfChanges(layout, changes);
  const keyColumns = layout.key.map((k) => layout.columns.find((c) => c.name === k)!);
  const columns: LoadColumn[] = [
    { name: '__ds_ord', type: { kind: 'bigint' }, values: keys.map((_k, i) => BigInt(i)) },
    ...keyColumns.map((c, i) => ({ name: `__ds_k${i}`, type: c.load, values: keys.map((k) => k[c.name] ?? null) })),
  ];
  const created = d.createLoadTable(
    KEYS_TABLE,
    columns.map((c) => ({ name: c.name, type: d.typeName(c.type) })),
  );
  await session.execute(created.sql);
  await session.load(created.table, columns, keys.length);
  const match = keyColumns
    .map((c, i) => `t.${d.quoteIdent(c.name)} = ${c.cast ? d.cast(`s.${d.quoteIdent(`__ds_k${i}`)}`, c.ddlType) : `s.${d.quoteIdent(`__ds_k${i}`)}`}`)
    .join(' AND ');
  const rows = await session.query(
    `SELECT s.${d.quoteIdent('__ds_ord')} AS ord FROM ${qualified(d, created.table)} AS s WHERE EXISTS (SELECT 1 FROM ${qualified(d, layout.target)} AS t WHERE ${match})`,
  );
  await session.execute(d.dropTable(created.table));
  const idOf = keyIdOf(layout.key);
  return new Set(rows.map((r) => idOf(keys[Number(r.ord)]!)));
}
