import crypto from 'node:crypto';
import type { Change, Column, Row, TableSchema } from '../core/change';
import { formatCommitLsn } from '../wire/envelope';
import { encodeJsonValue } from '../wire/jsonValues';

/**
 * Identities of a change for event destinations (Kafka, HTTP), shared so that every destination
 * names a change the same way:
 *
 * - `rowKeyText` is the row's identity: its primary key values as a JSON object in key order (the
 *   json codec's value mapping: int8 and numeric as strings, bytea as base64). It is the Kafka
 *   message key, so all changes of one row go to one partition, in commit order. Inserts and
 *   updates use the new row's key (an update that changes the key is keyed by the new key; its
 *   envelope still carries the old key); deletes use the deleted key. A table without a primary key
 *   uses its replica identity columns; a change with no key at all (truncate, REPLICA IDENTITY
 *   NOTHING) uses the empty object `{}`.
 * - `idempotencyKey` is a fixed-length hash (SHA-256, 64 hex digits) of (table, row key, stream
 *   position), the position being the transaction's commit LSN and the change's `seq` in it. A
 *   replay of the same change gives the same key; two changes of one row in one transaction get
 *   different keys. Consumers deduplicate by it.
 */
export function rowKeyText(change: Change, schema: TableSchema): string {
  const image: Row = change.op === 'delete' || change.op === 'truncate' ? change.key : (change.after ?? change.key);
  const columns =
    schema.primaryKey.length > 0
      ? primaryKeyColumns(schema)
      : schema.columns.filter((c) => c.name in change.key).map((c) => [JSON.stringify(c.name), c] as const);
  let out = '';
  for (const [quoted, column] of columns) {
    const v = image[column.name] ?? change.key[column.name];
    if (v === undefined) continue;
    out += `${out === '' ? '' : ','}${quoted}:${encodeJsonValue(v, column)}`;
  }
  return `{${out}}`;
}

const keyColumnsCache = new WeakMap<TableSchema, ReadonlyArray<readonly [string, Column]>>();

/** The primary key columns of a schema with their quoted names, computed once per schema object. */
function primaryKeyColumns(schema: TableSchema): ReadonlyArray<readonly [string, Column]> {
  let cols = keyColumnsCache.get(schema);
  if (!cols) {
    cols = schema.primaryKey.flatMap((name) => {
      const column = schema.columns.find((c) => c.name === name);
      return column ? [[JSON.stringify(name), column] as const] : [];
    });
    keyColumnsCache.set(schema, cols);
  }
  return cols;
}

/** `schema.table`, the table's name in headers and keys. */
export function qualifiedName(change: Pick<Change, 'table'>): string {
  return `${change.table.schema}.${change.table.name}`;
}

/** The change's stream position as text: `commitLsn/seq`, e.g. `0/16B6C50/3`. */
export function streamPositionText(change: Pick<Change, 'commitLsn' | 'seq'>): string {
  // Changes of one transaction share the commit LSN: its text is cached.
  return `${formatCommitLsn(change.commitLsn)}/${change.seq}`;
}

/** SHA-256 of the UTF-8 bytes of `text`, as 64 lower-case hex digits (one-shot `crypto.hash` where Node has it: no Hash object). */
const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function' ? (text) => crypto.hash('sha256', text, 'hex') : (text) => crypto.createHash('sha256').update(text).digest('hex');

/**
 * See the module comment: hash of (table, row key, commit LSN, seq), 64 lower-case hex digits.
 * `table` may be passed when the caller has `qualifiedName(change)` already.
 */
export function idempotencyKey(change: Change, schema: TableSchema, rowKey = rowKeyText(change, schema), table = qualifiedName(change)): string {
  return sha256Hex(`${table}\n${rowKey}\n${streamPositionText(change)}`);
}

/**
 * The key of a request that carries several changes of one table (http `mode=batch`): a hash of
 * the table and the stream positions of its first and last change. The same batch replayed gets the
 * same key; a replay cut at other boundaries gets another key (consumers then deduplicate the changes
 * inside by their own positions).
 */
export function batchIdempotencyKey(first: Change, last: Change): string {
  return sha256Hex(`${qualifiedName(first)}\n${streamPositionText(first)}\n${streamPositionText(last)}`);
}

/** The idempotency key of the tombstone that follows a delete: distinct from the delete's own. */
export function tombstoneIdempotencyKey(change: Change, schema: TableSchema, rowKey = rowKeyText(change, schema), table = qualifiedName(change)): string {
  return sha256Hex(`${table}\n${rowKey}\n${streamPositionText(change)}\ntombstone`);
}
