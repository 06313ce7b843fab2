import type { Batch, TableRef } from '../core/change';
import type { SchemaChange } from '../core/schemaChange';
import type { WireFormat } from '../wire/codec';

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
 * A destination of a flow: one implementation per kind (duckdb, kafka, s3, http, pgstream, ...).
 *
 * Contract:
 * - `open()` is idempotent: it connects and creates whatever must exist (tables, topics, buckets
 *   are checked); it fails with a DuctError naming the option when the peer is unreachable or refuses.
 * - `write(batch)` is durable when it resolves: after that, a crash loses none of the batch. It is
 *   safe to call twice with the same batch, or with an older batch after a newer one (a replay after a
 *   crash between write and checkpoint): the effect is as if each change were applied once, and an older
 *   change never overwrites a newer one. Changes to one row are applied in commit order.
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

/** Optional capability: the destination can stage backfill loads and resolve them into the targets. */
export interface Staged {
  resolveStaging(tables: TableRef[], mode: 'append' | 'replace' | 'none'): Promise<void>;
}

export function isStaged(d: Destination): d is Destination & Staged {
  return typeof (d as Partial<Staged>).resolveStaging === 'function';
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
