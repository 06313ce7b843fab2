import type { Batch, TableRef, TableSchema } from '../core/change';
import type { SchemaChange } from '../core/schemaChange';
import type { WireFormat } from '../wire/codec';
import type { SnapshotFile } from './sql/snapshot-file';

/**
 * A batch as destinations receive it: the changes plus encodings that are computed at most once
 * per batch and format, however many destinations ask for them.
 */
export interface EncodedBatch extends Batch {
  /** Each change as one message in `format`, index-aligned with `changes`. Memoized per format. */
  messages(format: WireFormat): Uint8Array[];
  /** The changes of each table as one file in `format`, keyed by `schema.table`. Memoized per format. */
  files(format: WireFormat): Map<string, Uint8Array>;
}

/**
 * A destination of a flow: one implementation per kind (duckdb, clickhouse, kafka, s3, http, pgstream, ...).
 * Every destination is an {@link EventDestination} or a {@link TableDestination}, which say what
 * "written" means for it; this base contract holds for both.
 *
 * Contract:
 * - `open()` is idempotent: it connects and creates whatever must exist (tables, topics, buckets
 *   are checked); it fails with a DuctError naming the option when the peer is unreachable or refuses.
 * - `write(batch)` is durable when it resolves: after that, a crash loses none of the batch. It is
 *   safe to call twice with the same batch, or with an older batch after a newer one (a replay after a
 *   crash between write and checkpoint); what a replay leaves behind is the capability's business.
 *   Changes to one row are delivered in commit order.
 *   Errors are DuctErrors classified for retry (`never` stops the flow with the error's reason).
 * - `close()` releases connections; safe to call twice and after a failed `open()`.
 *
 * The runner calls `write` for one batch at a time per destination, in stream order.
 */
export interface Destination {
  readonly name: string;
  readonly kind: string;
  open(): Promise<void>;
  write(batch: EncodedBatch): Promise<void>;
  close(): Promise<void>;
}

/**
 * Event destinations (Kafka, Bufstream, HTTP, S3, pgstream): each change is delivered as an event,
 * at least once. A replay delivers events again, each with the same identity (idempotency key =
 * hash(table, primary key, commit LSN + seq), or the stream position where the peer has no key of
 * its own); consumers deduplicate by it. pgstream deduplicates itself (one event per position).
 */
export interface EventDestination extends Destination {
  readonly delivery: 'at_least_once';
}

/**
 * How a table destination makes a batch visible (see `ApplyStrategy` in src/destinations/sql):
 * - `transactional`: data and watermark commit together; visible and durable when `write` resolves,
 *   nothing of a failed write visible (DuckDB, Snowflake);
 * - `versioned_append`: rows are appended with the change's stream position as version; readers take
 *   the latest version per key (ClickHouse `ReplacingMergeTree` read with `FINAL`);
 * - `staged`: stage → load → merge, visible when the merge commits;
 * - `eventually_visible`: durable when `write` resolves, visible after the destination's own load (Snowpipe);
 * - `in_place`: rows are deleted and rewritten by synchronous statements outside a transaction
 *   (ClickHouse `apply_mode=mutations`): visible and durable when `write` resolves; a failed write
 *   may leave part of the batch applied, and its retry completes it (every statement is idempotent).
 */
export type ApplyCapability = 'transactional' | 'versioned_append' | 'staged' | 'eventually_visible' | 'in_place';

/**
 * Table destinations (DuckDB, ClickHouse, Snowflake, Snowpipe): destination == source. The rows a
 * reader sees (as `applies` says to read them) are the source's rows after the last written change:
 * a replayed or older batch has no effect, never a duplicate or a regression.
 */
export interface TableDestination extends Destination {
  readonly applies: ApplyCapability;
}

export function isTableDestination(d: Destination): d is TableDestination {
  return typeof (d as Partial<TableDestination>).applies === 'string';
}

/** Optional capability: the destination can stage backfill loads and resolve them into the targets. */
export interface Staged {
  resolveStaging(tables: TableRef[], mode: 'append' | 'replace' | 'none'): Promise<void>;
}

export function isStaged(d: Destination): d is Destination & Staged {
  return typeof (d as Partial<Staged>).resolveStaging === 'function';
}

/**
 * Optional capability: the destination loads a backfill chunk as a CSV file written by PostgreSQL
 * (`SnapshotFile`), without decoding its rows in JS. `csvLoadRefusal` says why a table's chunks
 * cannot go that way (undefined: they can); it needs no open destination. `writeSnapshotFile`
 * has the guarantees of `write` for the same snapshot rows (replays skipped, durable when it
 * resolves, one at a time with writes); a `never` error means the file's values do not load
 * exactly (the caller then writes the chunk as decoded rows).
 */
export interface SnapshotFileLoading {
  csvLoadRefusal(table: TableSchema): string | undefined;
  writeSnapshotFile(file: SnapshotFile): Promise<void>;
}

export function isSnapshotFileLoading(d: Destination): d is Destination & SnapshotFileLoading {
  const c = d as Partial<SnapshotFileLoading>;
  return typeof c.csvLoadRefusal === 'function' && typeof c.writeSnapshotFile === 'function';
}

/**
 * Optional capability: the destination changes its tables to follow a source schema change
 * (add, rename, widen, drop columns as its options say). Idempotent: applying the same change again,
 * or after a crash half-way, leaves the table as one apply would. Durable when it resolves. Errors are
 * DuctErrors; a change the destination cannot follow (e.g. a new primary key) is `never` with a hint.
 */
export interface SchemaEvolving {
  applySchemaChange(change: SchemaChange): Promise<void>;
}

export function isSchemaEvolving(d: Destination): d is Destination & SchemaEvolving {
  return typeof (d as Partial<SchemaEvolving>).applySchemaChange === 'function';
}
