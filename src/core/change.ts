import type { Lsn } from './lsn';

/** A table of the source database. */
export interface TableRef {
  schema: string;
  name: string;
}

export function tableKey(t: TableRef): string {
  return `${t.schema}.${t.name}`;
}

/** A column as the source sees it. `pgType` is the type name (`int8`, `numeric`, `_text`, `public.mood`). */
export interface Column {
  name: string;
  /** `pg_type.typname` of the column type, schema-qualified when not in pg_catalog. */
  pgType: string;
  typeOid: number;
  /** Type modifier (e.g. numeric precision/scale, varchar length); -1 when none. */
  typmod: number;
  /** `format_type(oid, typmod)`, e.g. `numeric(30,10)`, `timestamp with time zone`, `text[]`. */
  formattedType: string;
  nullable: boolean;
  /** What the value parser produces for this column. */
  valueKind: ValueKind;
  /** For arrays, the element's value kind. */
  elementKind?: ValueKind;
  /** `pg_attribute.attnum` when the catalog knew the column: identifies it across a rename. */
  attnum?: number;
}

export type ReplicaIdentity = 'default' | 'full' | 'index' | 'nothing';

/** A table's shape at a point in the stream. Relation messages and the catalog produce it. */
export interface TableSchema extends TableRef {
  /** The relation OID at the source (stable for the table's lifetime). */
  relationId: number;
  columns: Column[];
  /** Primary key column names, in key order; empty when the table has none. */
  primaryKey: string[];
  replicaIdentity: ReplicaIdentity;
  /**
   * True when the primary key is DEFERRABLE: inside a transaction two rows may then hold one key
   * for a while (a key swap), which changes how a batch's key changes are folded.
   */
  keyDeferrable?: boolean;
}

/**
 * How a column's value is represented in JS, for every codec and destination. Nothing loses
 * precision:
 * - `bool` → boolean; `int` (int2/int4/oid) → number; `bigint` (int8) → bigint;
 * - `float` → number (NaN and ±Infinity kept); `numeric` → string (exact decimal text, or `NaN`, `Infinity`);
 * - `text` (text, varchar, char, name, uuid, enums, unknown/extension types) → string;
 * - `bytes` (bytea) → Buffer;
 * - `json` (json, jsonb) → string holding the JSON text exactly as stored;
 * - `date` → `YYYY-MM-DD`; `timestamp` → `YYYY-MM-DDTHH:MM:SS[.ffffff]` (no zone); `timestamptz` → the
 *   same in UTC with a `Z` — ISO 8601 with astronomical years (`-000043-03-15` is 44 BC, `+010000-01-01`),
 *   `infinity`/`-infinity` as words; src/core/time.ts converts them exactly to epoch days/microseconds;
 * - `time`, `timetz`, `interval` and other scalars → their PostgreSQL text;
 * - `array` → a (possibly nested) JS array whose elements follow `elementKind`, with `null` elements.
 */
export type ValueKind =
  'bool' | 'int' | 'bigint' | 'float' | 'numeric' | 'text' | 'bytes' | 'json' | 'date' | 'timestamp' | 'timestamptz' | 'time' | 'interval' | 'array';

export type ScalarValue = null | boolean | number | bigint | string | Buffer;
export type Value = ScalarValue | Value[];

/** A row image: column name → value. A column absent from the object is an unchanged TOAST value. */
export type Row = Record<string, Value>;

/**
 * `read` is a row of a backfill (snapshot) read at the snapshot's LSN (Debezium's `r`): table
 * destinations upsert it like an insert; event destinations send it as its own op.
 */
export type ChangeOp = 'insert' | 'update' | 'delete' | 'truncate' | 'read';

/**
 * One change from the source, in commit order. Ordering key across the whole stream is
 * (`commitLsn`, `seq`): `seq` numbers changes inside their transaction from 0.
 */
export interface Change {
  op: ChangeOp;
  table: TableRef;
  /** WAL position of this change's record. */
  lsn: Lsn;
  /** WAL position of the commit record of its transaction (same for every change of the transaction). */
  commitLsn: Lsn;
  /**
   * End of the commit record: the position to acknowledge once this transaction is durable everywhere.
   * `0n` when the change was cut into a batch before its Commit arrived (not known yet).
   */
  commitEndLsn: Lsn;
  /** Commit time, microseconds since the Unix epoch. */
  commitTimeMicros: bigint;
  xid: number;
  seq: number;
  /** Primary key (or replica identity) values; empty for truncate. */
  key: Row;
  /** The old row when the source sent it (REPLICA IDENTITY FULL, or a key change). */
  before: Row | null;
  /** The new row for insert/update; null for delete and truncate. Unchanged TOAST columns are absent. */
  after: Row | null;
  /** Columns whose value did not change and was not sent (TOAST): never write them as NULL. */
  unchangedToast: string[];
  /** For truncate: every table truncated by the statement (a truncate change is emitted per table). */
  truncateOptions?: { cascade: boolean; restartIdentity: boolean };
}

/**
 * A batch of changes handed to destinations. Changes are in commit order. `schemas` holds the
 * current schema of every table that appears in `changes`.
 */
export interface Batch {
  flowId: string;
  changes: Change[];
  schemas: Map<string, TableSchema>;
  /** Ordering key of the first change. */
  firstLsn: Lsn;
  /**
   * Where the checkpoint may move once this batch (and every earlier one) is durable in every
   * destination: the commit end LSN of the last transaction that is complete up to here, or a
   * keepalive position received while no transaction was open. Never inside a transaction, so a
   * restart from it re-reads any transaction this batch holds only part of (destinations dedup it).
   */
  checkpointLsn: Lsn;
  /**
   * DDL statements captured by the source's event trigger (`ductstream-admin ddl install-trigger`)
   * since the previous batch, in stream order; absent when there were none.
   */
  ddl?: CapturedDdl[];
}

/** One DDL statement as the event trigger wrote it into the WAL. */
export interface CapturedDdl {
  /** Commit LSN of the DDL's transaction. */
  lsn: Lsn;
  /** Row changes of its transaction before it: rows from `(lsn, seq)` on have the DDL's shape. */
  seq: number;
  /** The logical message's own WAL position (tells statements of one transaction apart). */
  messageLsn: Lsn;
  /** `ALTER TABLE`, `CREATE TABLE`, `DROP TABLE`. */
  tag: string;
  table: TableRef;
  ddl: string;
}

/**
 * The changes of each table, keyed by `schema.table`, each list in stream order. Consecutive
 * changes usually share one TableRef object, so the key is computed once per run of a table.
 */
export function groupByTable(changes: readonly Change[]): Map<string, Change[]> {
  const out = new Map<string, Change[]>();
  let ref: TableRef | undefined;
  let list: Change[] = [];
  for (const c of changes) {
    if (c.table !== ref) {
      ref = c.table;
      const k = tableKey(ref);
      const known = out.get(k);
      if (known) list = known;
      else out.set(k, (list = []));
    }
    list.push(c);
  }
  return out;
}

/** Identifies a change's transaction in the stream (its commit position and xid). */
export function transactionKey(c: Pick<Change, 'commitLsn' | 'xid'>): string {
  return `${c.commitLsn.toString()}/${c.xid}`;
}
