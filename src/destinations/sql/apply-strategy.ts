import type { Change, TableRef } from '../../core/change';
import type { SchemaChange } from '../../core/schemaChange';
import type { ApplyCapability } from '../destination';
import type { ColumnDef, QualifiedName } from './dialect';
import type { TableLayout } from './layout';
import type { SnapshotFile } from './snapshot-file';
import type { Watermark, WatermarkKey } from './meta-table';
import type { BatchResolution } from './options';
import type { HeldKeys, TablePlan } from './plan';

export type { ApplyCapability };

/** Where one table's watermark moves when its work is applied. */
export interface WatermarkMove {
  key: WatermarkKey;
  to: Watermark;
  /** Commit time of the last change (stored beside the watermark, for people). */
  commitTimeMicros: bigint;
  /** True when the meta table already holds a row for `key`. */
  existed: boolean;
}

/** One destination table's part of a batch: its layout and its planned net changes (past the watermark). */
export interface TableWork {
  layout: TableLayout;
  plan: TablePlan;
  /** Undefined when `meta_table_enabled` is false. */
  watermark: WatermarkMove | undefined;
}

/** One destination table to follow a source schema change (see `ApplyStrategy.evolveTable`). */
export interface EvolveTable {
  change: SchemaChange;
  table: QualifiedName;
  /** The layout of the source table's new shape in this destination (null for a dropped table). */
  layout: TableLayout | null;
  /** `ddl_drop_columns`: a dropped source column is dropped here too (otherwise kept, NULL in new rows). */
  dropColumns: boolean;
}

/**
 * How planned batches reach a destination's tables. The shared {@link WarehouseWriter} groups a
 * batch by table, lays tables out, skips changes at or before the watermark and plans the rest
 * (`plan.ts`); a strategy applies the plans and moves the watermarks, with the guarantees of its
 * {@link ApplyCapability}. Calls come one at a time (the writer serializes them).
 *
 * Errors are DuctErrors classified where thrown; a strategy prefixes them with the table(s) they
 * concern (`withTables`).
 */
export interface ApplyStrategy {
  readonly capability: ApplyCapability;
  /**
   * Creates the destination table of `layout` when missing, with `columns` (data and metadata
   * columns, in order) and whatever columns the strategy itself needs (e.g. a version), then returns
   * the names of the columns the table has. Idempotent.
   */
  ensureTable(layout: TableLayout, columns: ColumnDef[]): Promise<string[]>;
  /** Creates the meta table when missing; returns the committed watermarks of `flowId` by `watermarkMapKey`. */
  readWatermarks(flowId: string): Promise<Map<string, Watermark>>;
  /**
   * Which keys touched by `changes` the destination holds, and which continued changes' old rows
   * it no longer holds ({@link HeldKeys}), when planning needs it (key changes of a DEFERRABLE key:
   * a swap and a move look alike in the stream). Optional: without it such plans assume no key is
   * held and every old row is the destination's.
   */
  heldKeys?(layout: TableLayout, changes: readonly Change[]): Promise<HeldKeys | undefined>;
  /** Applies the work of one batch (tables in batch order) and moves their watermarks. */
  apply(work: TableWork[]): Promise<void>;
  /**
   * Optional: loads the snapshot rows of a backfill chunk's CSV file into the target of `layout`
   * (already ensured; {@link csvLoadRefusal} found nothing against it) and moves its watermark, in
   * one transaction: durable when it resolves, nothing of it visible when it rejects. Rows whose
   * key the target holds are replaced, as an upsert of the same `read` changes would.
   */
  loadSnapshotFile?(layout: TableLayout, file: SnapshotFile, watermark: WatermarkMove | undefined): Promise<void>;
  /**
   * Moves staged rows of `tables` into their targets and drops the staging tables; with
   * `watermarks` (meta table enabled), the staged watermark moves to the target when later.
   */
  resolveStaging(tables: TableRef[], mode: Exclude<BatchResolution, 'none'>, watermarks: Map<string, Watermark> | undefined, flowId: string): Promise<void>;
  /**
   * Optional: ALTERs the existing table `table` to follow a source schema change (policy in
   * `schema-evolution.ts`); a table that does not exist yet is left alone (created with the new
   * shape on its first write). Idempotent: applied twice, or again after a crash half-way, the table
   * ends as after one apply. Absent: the destination cannot follow schema changes.
   */
  evolveTable?(input: EvolveTable): Promise<void>;
}
