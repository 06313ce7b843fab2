import type { Lsn } from '../../../core/lsn';

/**
 * The messages of the `pgoutput` plugin, protocol version 1 (PostgreSQL docs, "Logical Replication
 * Message Formats"). LSNs are bigints; timestamps are microseconds since the Unix epoch.
 */

/** A column value in a tuple as sent: text, NULL, or an unchanged TOAST value (not sent). */
export type RawValue = string | null | typeof UNCHANGED_TOAST;
export const UNCHANGED_TOAST: unique symbol = Symbol('unchanged-toast');
export type RawTuple = RawValue[];

export interface BeginMessage {
  tag: 'begin';
  /** LSN of the commit record of the transaction. */
  finalLsn: Lsn;
  commitTimeMicros: bigint;
  xid: number;
}

export interface CommitMessage {
  tag: 'commit';
  flags: number;
  /** LSN of the commit record (equals Begin's finalLsn). */
  commitLsn: Lsn;
  /** End of the commit record: the position to acknowledge. */
  endLsn: Lsn;
  commitTimeMicros: bigint;
}

export interface OriginMessage {
  tag: 'origin';
  commitLsn: Lsn;
  name: string;
}

export interface RelationColumn {
  /** Bit 1: part of the replica identity key. */
  flags: number;
  name: string;
  typeOid: number;
  typmod: number;
}

export interface RelationMessage {
  tag: 'relation';
  relationId: number;
  /** Schema name; pgoutput sends '' for pg_catalog, reported here as `pg_catalog`. */
  schema: string;
  name: string;
  /** `d` default, `n` nothing, `f` full, `i` index. */
  replicaIdentity: string;
  columns: RelationColumn[];
}

export interface TypeMessage {
  tag: 'type';
  typeOid: number;
  schema: string;
  name: string;
}

export interface InsertMessage {
  tag: 'insert';
  relationId: number;
  newTuple: RawTuple;
}

export interface UpdateMessage {
  tag: 'update';
  relationId: number;
  /** `K`: the old key columns (others NULL); `O`: the whole old row (REPLICA IDENTITY FULL). */
  oldKind: 'K' | 'O' | null;
  oldTuple: RawTuple | null;
  newTuple: RawTuple;
}

export interface DeleteMessage {
  tag: 'delete';
  relationId: number;
  oldKind: 'K' | 'O';
  oldTuple: RawTuple;
}

export interface TruncateMessage {
  tag: 'truncate';
  /** Bit 1: CASCADE; bit 2: RESTART IDENTITY. */
  options: number;
  relationIds: number[];
}

export interface LogicalMessage {
  tag: 'message';
  transactional: boolean;
  lsn: Lsn;
  prefix: string;
  content: Buffer;
}

export type PgoutputMessage =
  | BeginMessage
  | CommitMessage
  | OriginMessage
  | RelationMessage
  | TypeMessage
  | InsertMessage
  | UpdateMessage
  | DeleteMessage
  | TruncateMessage
  | LogicalMessage;

/** Microseconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01 (both UTC). */
export const PG_EPOCH_OFFSET_MICROS = 946_684_800_000_000n;
