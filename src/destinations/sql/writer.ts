import { groupByTable, tableKey, type Batch, type Change, type TableRef, type TableSchema } from '../../core/change';
import { DuctError, invalidArgument } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { SchemaChange } from '../../core/schemaChange';
import type { ApplyStrategy, TableWork } from './apply-strategy';
import type { SqlTypes } from './dialect';
import { withTables } from './errors';
import { layoutSignature, stagingName, tableLayout, targetName, type TableLayout } from './layout';
import { isApplied, watermarkMapKey, type Watermark } from './meta-table';
import type { BatchResolution, WarehouseOptions } from './options';
import { OpenTransactionImages } from './open-transaction';
import { continuedChanges, planTable } from './plan';
import { csvTableRefusal, type SnapshotFile } from './snapshot-file';
import { TransactionalApply, type TransactionalApplyConfig } from './transactional-apply';

export interface WarehouseWriterConfig {
  /** How planned batches reach the tables (and what that guarantees). */
  apply: ApplyStrategy;
  /** How logical types are named (table layouts). */
  types: SqlTypes;
  options: WarehouseOptions;
  flowId: string;
  log: Logger;
}

export interface WriteSummary {
  /** Tables that received changes. */
  tables: number;
  /** Changes applied. */
  applied: number;
  /** Changes skipped because the meta table shows them applied already (replays). */
  skipped: number;
}

/**
 * Writes batches into warehouse tables: the one shared place where a batch is grouped by table,
 * tables are laid out (metadata columns, type mappings) and created on first sight, changes at or
 * before the table's watermark are skipped, and the rest is planned (net effect per key, key
 * moves, unchanged TOAST, deletes: `plan.ts`). An {@link ApplyStrategy} then applies the plans and
 * moves the watermarks, with the guarantees of its capability (`transactional`, `versioned_append`, ...).
 *
 * Guarantees (with `meta_table_enabled`, the default): writing the same batch again, or an older
 * one, changes nothing; a batch is durable when `write` resolves and visible as the strategy's
 * capability says. Without the meta table a batch written twice still gives the same rows in target
 * mode, but an older batch can regress rows and append mode duplicates them (transactional strategy).
 *
 * Watermarks are per (flow, source table, destination table) and ordered by (commitLsn, seq):
 * callers that write the same source table from several writers of one flow concurrently (parallel
 * backfill partitions) must give each its own `flowId`, or their positions must not interleave.
 */
export class WarehouseWriter {
  /** Destination tables known to exist with a layout, by `schema.table` → layout signature. */
  private readonly ensured = new Map<string, string>();
  /**
   * Committed watermarks of this flow, read once from the meta table then kept in step with each
   * apply (this writer is the only writer of its flow's rows in the destination).
   */
  private watermarks: Map<string, Watermark> | undefined;
  /** With the `table` option: the one source table this destination writes. */
  private boundSource: string | undefined;
  /** DEFERRABLE-key tables: what earlier writes of a still open transaction left, by `schema.table` of the target. */
  private readonly openTransactions = new Map<string, OpenTransactionImages>();
  /** What to note once the current write is applied. */
  private afterApply: (() => void)[] = [];

  constructor(private readonly cfg: WarehouseWriterConfig) {}

  /** A writer with the transactional strategy over a SQL session (DuckDB, Snowflake). */
  static transactional(c: TransactionalApplyConfig): WarehouseWriter {
    return new WarehouseWriter({ apply: new TransactionalApply(c), types: c.dialect, options: c.options, flowId: c.flowId, log: c.log });
  }

  /** Plans a batch per table and hands the plans to the apply strategy. */
  async write(batch: Batch): Promise<WriteSummary> {
    const groups = groupByTable(batch.changes);
    this.checkFixedTable(groups);
    const summary: WriteSummary = { tables: 0, applied: 0, skipped: 0 };
    if (groups.size === 0) return summary;
    const watermarks = await this.readWatermarks();
    const work: TableWork[] = [];
    this.afterApply = [];
    for (const [key, changes] of groups) {
      const schema = batch.schemas.get(key);
      if (!schema) throw new DuctError('internal', `batch has changes of ${key} but no schema for it`, { retry: 'never' });
      const w = await this.tableWork(schema, changes, watermarks, summary);
      if (w) work.push(w);
    }
    if (work.length === 0) return summary;
    await this.cfg.apply.apply(work);
    for (const note of this.afterApply) note();
    this.afterApply = [];
    for (const w of work) if (w.watermark) watermarks.set(watermarkMapKey(w.watermark.key.source, w.watermark.key.target), w.watermark.to);
    if (summary.skipped > 0)
      this.cfg.log.info('skipped changes already applied (replay)', { flow: this.cfg.flowId, skipped: summary.skipped, applied: summary.applied });
    return summary;
  }

  /**
   * One table's part of a batch: its destination table made to exist, the changes at or before its
   * watermark skipped (counted in `summary`), the rest planned with the watermark they move it to.
   * Undefined when every change was applied before.
   */
  private async tableWork(schema: TableSchema, changes: Change[], watermarks: Map<string, Watermark>, summary: WriteSummary): Promise<TableWork | undefined> {
    const { types, options: o } = this.cfg;
    const name = o.batchMode === 'staging' ? stagingName(schema, o) : targetName(schema, o);
    const layout = tableLayout(schema, name, o, types);
    try {
      await this.ensureTable(layout);
      if (o.batchMode === 'staging') await this.ensureTable(tableLayout(schema, targetName(schema, o), o, types));
    } catch (e) {
      throw withTables([layout], e);
    }
    const wm = watermarks.get(watermarkMapKey(schema, name));
    const fresh = wm ? notApplied(wm, changes) : changes;
    summary.skipped += changes.length - fresh.length;
    const open = this.openTransactionOf(layout);
    if (open && fresh.length < changes.length) open.rebuild(layout, changes.slice(0, changes.length - fresh.length));
    if (fresh.length === 0) return undefined;
    summary.tables++;
    summary.applied += fresh.length;
    const last = fresh[fresh.length - 1]!;
    const watermark: TableWork['watermark'] = o.metaTableEnabled
      ? {
          key: { flowId: this.cfg.flowId, source: schema, target: name },
          to: { commitLsn: last.commitLsn, seq: last.seq },
          commitTimeMicros: last.commitTimeMicros,
          existed: wm !== undefined,
        }
      : undefined;
    const held = await this.cfg.apply.heldKeys?.(layout, fresh);
    let replaced = held?.replaced;
    const moved = open?.replaced(layout, continuedChanges(layout, fresh));
    if (moved && moved.size > 0) replaced = new Set([...(replaced ?? []), ...moved]);
    const plan = planTable(layout, fresh, held?.keys, replaced);
    if (open) this.afterApply.push(() => open.written(layout, fresh, plan.rows));
    return { layout, plan, watermark };
  }

  /**
   * Why snapshot rows of `schema` cannot be loaded here from a backfill chunk's CSV file (see
   * `snapshot-file.ts`), or undefined when they can.
   */
  csvLoadRefusal(schema: TableSchema): string | undefined {
    if (!this.cfg.apply.loadSnapshotFile) return 'the destination reads no CSV files';
    return csvTableRefusal(schema, this.cfg.options, this.cfg.types);
  }

  /**
   * Loads a backfill chunk's CSV file into the target with the guarantees of {@link write} for the
   * same `read` changes: skipped whole when the table's watermark shows a streamed change after
   * the snapshot applied (the rows could regress it), else inserted (replacing rows of the same
   * key) with the watermark moved to the file's position in the same transaction. Throws a `never`
   * DuctError when {@link csvLoadRefusal} refuses the table.
   */
  async writeSnapshotFile(file: SnapshotFile): Promise<WriteSummary> {
    const schema = file.table;
    const o = this.cfg.options;
    this.checkFixedTable(new Map([[tableKey(schema), []]]));
    const refusal = this.csvLoadRefusal(schema);
    const load = this.cfg.apply.loadSnapshotFile?.bind(this.cfg.apply);
    if (refusal !== undefined || !load) {
      throw new DuctError('internal', `snapshot rows of ${tableKey(schema)} cannot be loaded from a file: ${refusal ?? 'no loader'}`, { retry: 'never' });
    }
    const name = targetName(schema, o);
    const layout = tableLayout(schema, name, o, this.cfg.types);
    const watermarks = await this.readWatermarks();
    try {
      await this.ensureTable(layout);
    } catch (e) {
      throw withTables([layout], e);
    }
    if (file.rows === 0) return { tables: 0, applied: 0, skipped: 0 };
    const wm = watermarks.get(watermarkMapKey(schema, name));
    const p = file.position;
    if (isApplied(wm, { op: 'read', commitLsn: p.commitLsn, seq: p.seq, commitEndLsn: p.commitEndLsn })) {
      this.cfg.log.info('skipped changes already applied (replay)', { flow: this.cfg.flowId, skipped: file.rows, applied: 0 });
      return { tables: 0, applied: 0, skipped: file.rows };
    }
    const to = { commitLsn: p.commitLsn, seq: p.seq };
    const watermark: TableWork['watermark'] = o.metaTableEnabled
      ? { key: { flowId: this.cfg.flowId, source: schema, target: name }, to, commitTimeMicros: p.commitTimeMicros, existed: wm !== undefined }
      : undefined;
    await load(layout, file, watermark);
    if (watermark) watermarks.set(watermarkMapKey(schema, name), to);
    return { tables: 1, applied: file.rows, skipped: 0 };
  }

  /**
   * The images of the open transaction of a DEFERRABLE-key table in target mode (see
   * {@link OpenTransactionImages}); undefined for other tables.
   */
  private openTransactionOf(layout: TableLayout): OpenTransactionImages | undefined {
    if (layout.mode !== 'target' || layout.key.length === 0 || layout.source.keyDeferrable !== true) return undefined;
    const name = nameKey(layout.target);
    let open = this.openTransactions.get(name);
    if (!open) this.openTransactions.set(name, (open = new OpenTransactionImages()));
    return open;
  }

  /** Moves staged rows of `tables` into their targets and drops the staging tables (`none` leaves them staged). */
  async resolveStaging(tables: TableRef[], mode: BatchResolution): Promise<void> {
    if (mode === 'none') return;
    const o = this.cfg.options;
    const watermarks = o.metaTableEnabled ? await this.readWatermarks() : undefined;
    this.watermarks = undefined;
    try {
      await this.cfg.apply.resolveStaging(tables, mode, watermarks, this.cfg.flowId);
    } finally {
      for (const source of tables) this.ensured.delete(nameKey(stagingName(source, o)));
    }
  }

  /**
   * Makes the destination table(s) of a source table follow a schema change through the strategy's
   * `evolveTable` (see `schema-evolution.ts`): the target, and the staging table in staging mode.
   * Idempotent. A strategy without `evolveTable` refuses with a `never` error naming the destination.
   */
  async applySchemaChange(change: SchemaChange): Promise<void> {
    const { types, options: o, apply } = this.cfg;
    if (!apply.evolveTable) {
      throw new DuctError('failed_precondition', `${o.path}: this destination cannot follow schema changes (${tableKey(change.table)})`, {
        retry: 'never',
        hint: 'reject the change (`ductstream-admin ddl reject`) and alter the destination table by hand, or recreate it',
      });
    }
    const names = o.batchMode === 'staging' ? [targetName(change.table, o), stagingName(change.table, o)] : [targetName(change.table, o)];
    for (const name of names) {
      const layout = change.after ? tableLayout(change.after, name, o, types) : null;
      this.ensured.delete(nameKey(name));
      await apply.evolveTable({ change, table: name, layout, dropColumns: o.dropColumns });
    }
  }

  private async readWatermarks(): Promise<Map<string, Watermark>> {
    if (!this.cfg.options.metaTableEnabled) return new Map();
    if (!this.watermarks) this.watermarks = await this.cfg.apply.readWatermarks(this.cfg.flowId);
    return this.watermarks;
  }

  private checkFixedTable(groups: Map<string, Change[]>): void {
    const o = this.cfg.options;
    if (o.table === undefined) return;
    const sources = [...groups.keys()];
    if (this.boundSource === undefined && sources.length > 0) this.boundSource = sources[0];
    const other = sources.find((s) => s !== this.boundSource);
    if (other !== undefined) {
      throw invalidArgument(
        `${o.path}.table`,
        `is set to "${o.table}", so this destination writes one source table, but the flow sends changes of ${this.boundSource} and ${other}`,
        'remove the table option to write each source table to a table of its own name, or give each source table its own destination',
      );
    }
  }

  /** Creates the destination schema and table when missing (idempotent DDL), once per layout; checks its columns. */
  private async ensureTable(layout: TableLayout): Promise<void> {
    const { types } = this.cfg;
    const name = nameKey(layout.target);
    const signature = layoutSignature(layout);
    if (this.ensured.get(name) === signature) return;
    const columns = [
      ...layout.columns.map((c) => ({ name: c.name, type: c.ddlType })),
      ...layout.meta.map((m) => ({ name: m.name, type: types.typeName(m.type) })),
    ];
    const existing = new Set(await this.cfg.apply.ensureTable(layout, columns));
    const missing = columns.map((c) => c.name).filter((c) => !existing.has(c));
    if (missing.length > 0) {
      throw new DuctError('failed_precondition', `destination table ${name} lacks column(s) ${missing.join(', ')} of source table ${tableKey(layout.source)}`, {
        retry: 'never',
        hint: `add the column(s) to ${name} (or drop the table to have it recreated), then restart the flow`,
      });
    }
    this.ensured.set(name, signature);
  }
}

function nameKey(t: { schema: string; name: string }): string {
  return `${t.schema}.${t.name}`;
}

/** The changes past the watermark (all of them, the same array, when none is at or before it). */
function notApplied(wm: Watermark, changes: Change[]): Change[] {
  let i = 0;
  while (i < changes.length && !isApplied(wm, changes[i]!)) i++;
  if (i === changes.length) return changes;
  const out = changes.slice(0, i);
  for (i++; i < changes.length; i++) if (!isApplied(wm, changes[i]!)) out.push(changes[i]!);
  return out;
}
