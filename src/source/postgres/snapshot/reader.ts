import type { Client } from 'pg';
import type { Change, Row, TableRef, Value } from '../../../core/change';
import { DuctError } from '../../../core/errors';
import type { Lsn } from '../../../core/lsn';
import type { CatalogQuery } from '../catalogQuery';
import type { RelationColumn } from '../pgoutput/messages';
import { NO_UNCHANGED } from '../pgoutput/tuple';
import { RelationLoader } from '../schema/relationLoader';
import type { RelationState } from '../schema/relationState';
import { TypeRegistry } from '../types/resolver';
import { copyOut } from './copyOut';
import { readCopyCtid, readCopyTextRow } from './copyText';
import { chunkQuery, snapshotSeqAt, type PartitionTask } from './partitions';

/**
 * The relation state of a table as the stream would build it from a Relation message (same
 * parsers, same TableSchema), read from the catalog, so snapshot rows and streamed changes of a
 * table reach destinations with identical schemas and values.
 */
export async function loadSnapshotRelation(query: CatalogQuery, table: TableRef, resolveTypes: boolean, internal: ReadonlySet<string>): Promise<RelationState> {
  const rows = await query<{ oid: number; relreplident: string; attname: string; atttypid: number; atttypmod: number; pk: boolean }>(
    `SELECT c.oid::int8::float8 AS oid, c.relreplident::text AS relreplident, a.attname::text AS attname, a.atttypid::int8::float8 AS atttypid,
            a.atttypmod AS atttypmod,
            EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary AND a.attnum = ANY(i.indkey::int2[])) AS pk
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE n.nspname = $1 AND c.relname = $2 ORDER BY a.attnum`,
    [table.schema, table.name],
  );
  const first = rows[0];
  if (!first) throw new DuctError('failed_precondition', `table ${table.schema}.${table.name} no longer exists`, { retry: 'never' });
  const full = first.relreplident === 'f' && !rows.some((r) => r.pk);
  const columns: RelationColumn[] = rows.map((r) => ({ flags: r.pk || full ? 1 : 0, name: r.attname, typeOid: r.atttypid, typmod: r.atttypmod }));
  const loader = new RelationLoader(query, new TypeRegistry(resolveTypes, query), internal);
  return loader.load({ tag: 'relation', relationId: first.oid, schema: table.schema, name: table.name, replicaIdentity: first.relreplident, columns });
}

/** Where snapshot rows sit in the stream: the snapshot's LSN and time. */
export interface SnapshotPosition {
  /** Where rows sit (commit LSN): just below the backfill's hold. */
  lsn: Lsn;
  /** The snapshot's own LSN (carried as `commitEndLsn`, see `isApplied`). */
  snapshotLsn: Lsn;
  timeMicros: bigint;
}

/**
 * Reads one chunk of a partition on `client` (inside whatever transaction and snapshot the caller
 * set) with `COPY (SELECT …) TO STDOUT` in text format, decoding each row as it arrives with the
 * streaming path's parsers ({@link readCopyTextRow}), into `read` changes positioned at the
 * snapshot: commit LSN = `at.lsn`, seq negative, unique in the backfill and derived from the row's
 * ctid ({@link snapshotSeq}).
 */
export async function readChunk(client: Client, rel: RelationState, part: PartitionTask, chunk: number, at: SnapshotPosition): Promise<Change[]> {
  const { names, keyIndexes, ref } = rel;
  const columns = names.length;
  const out: Change[] = [];
  const values: Value[] = new Array<Value>(columns);
  const keyValues: Value[] = new Array<Value>(keyIndexes.length);
  await copyOut(client, `COPY (${chunkQuery(part, chunk)}) TO STDOUT`, (buf, start, end) => {
    const ctidAt = readCopyTextRow(buf, start, end, rel, columns, values);
    const ctid = readCopyCtid(buf, ctidAt, end);
    const after: Row = rel.buildRow ? rel.buildRow(values) : Object.fromEntries(names.map((n, i) => [n, values[i]!]));
    for (let j = 0; j < keyIndexes.length; j++) keyValues[j] = values[keyIndexes[j]!]!;
    const key: Row = rel.buildKey ? rel.buildKey(keyValues) : Object.fromEntries(keyIndexes.map((i, j) => [names[i]!, keyValues[j]!]));
    out.push({
      op: 'read',
      table: ref,
      lsn: at.lsn,
      commitLsn: at.lsn,
      commitEndLsn: at.snapshotLsn,
      commitTimeMicros: at.timeMicros,
      xid: 0,
      seq: snapshotSeqAt(part, ctid.block, ctid.offset),
      key,
      before: null,
      after,
      unchangedToast: NO_UNCHANGED,
    });
  });
  return out;
}
