import type { Change, TableRef } from '../../core/change';
import type { SourceRowReader } from '../../core/sourceRows';
import type { Logger } from '../../core/log';
import type { ApplyStrategy, EvolveTable, TableWork } from './apply-strategy';
import { qualified, type ColumnDef, type QualifiedName, type SqlDialect } from './dialect';
import { withTables } from './errors';
import { heldKeys } from './held-keys';
import { completeFromSource } from './source-fill';
import { FastScript, fastRows, runApply } from './fast-apply';
import { applyByDirectAppend, directAppendable } from './direct-append';
import { stagingName, targetName, type TableLayout } from './layout';
import { buildLoadData, type LoadTable } from './load-table';
import { createMetaTableStatements, parseWatermarkRows, selectWatermarks, updateWatermark, upsertWatermark, type Watermark } from './meta-table';
import type { BatchResolution, WarehouseOptions } from './options';
import type { HeldKeys, TablePlan } from './plan';
import type { SqlSession } from './session';
import { csvColumns, csvInsertStatement, type SnapshotFile } from './snapshot-file';
import { DuctError } from '../../core/errors';
import { ansiAlterSyntax, evolutionStatements } from './schema-evolution';
import { keyRetypes, planRebuild, rebuildStatements } from './rebuild';
import { resolveStatements } from './staging';
import { applyStatements, type WriteRows } from './statements';

export interface TransactionalApplyConfig {
  session: SqlSession;
  /** Reads the source's current rows, to complete unchanged TOAST values the destination lacks. */
  sourceRows?: SourceRowReader;
  dialect: SqlDialect;
  options: WarehouseOptions;
  flowId: string;
  log: Logger;
}

/**
 * The `transactional` apply strategy (DuckDB, Snowflake): each table's net changes are loaded
 * into a session-private load table outside any transaction, then one script applies them all
 * set-based and moves the watermarks between BEGIN and COMMIT. Atomic and durable when `apply`
 * resolves; on failure it rolls back and nothing of the batch is visible.
 */
export class TransactionalApply implements ApplyStrategy {
  readonly capability = 'transactional' as const;
  /** Reusable load tables by column signature. */
  private readonly loadTables = new Map<string, LoadSlot[]>();
  private loadTableCount = 0;
  /** Column names of destination tables in table order, as read when they were ensured. */
  private readonly tableColumns = new Map<string, string[]>();

  /** Present where the dialect reads CSV files (see `ApplyStrategy.loadSnapshotFile`). */
  readonly loadSnapshotFile?: (layout: TableLayout, file: SnapshotFile, watermark: TableWork['watermark']) => Promise<void>;

  constructor(private readonly cfg: TransactionalApplyConfig) {
    if (cfg.dialect.readCsvFile) this.loadSnapshotFile = (layout, file, watermark) => this.loadCsv(layout, file, watermark);
  }

  async ensureTable(layout: TableLayout, columns: ColumnDef[]): Promise<string[]> {
    const { session, dialect: d } = this.cfg;
    await session.executeScript([d.createSchema(layout.target.schema), d.createTable(layout.target, columns, layout.constraintKey)]);
    const names = (await session.query(d.listColumns(layout.target))).map((r) => String(r.column_name));
    this.tableColumns.set(qualified(d, layout.target), names);
    return names;
  }

  /**
   * ALTERs the table in place (see `schema-evolution.ts`), then, when its primary key changed or a
   * key column was retyped (DuckDB cannot alter those in place), rebuilds it in one transaction
   * with the new key and types, keeping every row and column ({@link rebuildStatements}).
   */
  async evolveTable(input: EvolveTable): Promise<void> {
    const { session, dialect: d } = this.cfg;
    this.tableColumns.delete(qualified(d, input.table));
    const existing = new Set((await session.query(d.listColumns(input.table))).map((r) => String(r.column_name)));
    if (existing.size === 0) return;
    const currentKey = (await session.query(d.listPrimaryKey(input.table))).map((r) => String(r.column_name));
    const retypes = keyRetypes(input, currentKey);
    const statements = evolutionStatements(d, ansiAlterSyntax(d), { ...input, existing, retypeInPlace: (c) => !retypes.has(c) });
    if (statements.length > 0) await session.executeScript(statements);
    const columns = (await session.query(d.listColumns(input.table))).map((r) => ({ name: String(r.column_name), type: String(r.data_type) }));
    const plan = planRebuild(input, columns, currentKey, retypes);
    if (!plan) return;
    try {
      await session.executeScript(rebuildStatements(d, input.table, plan));
    } catch (e) {
      await session.execute(d.rollback).catch(() => undefined);
      throw e;
    }
    this.cfg.log.info('table rebuilt for a schema change', { table: `${input.table.schema}.${input.table.name}`, key: plan.key.join(', ') });
  }

  async readWatermarks(flowId: string): Promise<Map<string, Watermark>> {
    const { session, dialect: d } = this.cfg;
    await session.executeScript(createMetaTableStatements(d));
    return parseWatermarkRows(await session.query(selectWatermarks(d, flowId)));
  }

  heldKeys(layout: TableLayout, changes: readonly Change[]): Promise<HeldKeys | undefined> {
    return heldKeys(this.cfg.session, this.cfg.dialect, layout, changes);
  }

  async apply(work: TableWork[]): Promise<void> {
    const { dialect: d } = this.cfg;
    if (directAppendable(d, this.cfg.session, work, (w) => this.tableColumns.get(qualified(d, w.layout.target)))) {
      try {
        await applyByDirectAppend(d, this.cfg.session, work, (w) => this.watermarkStatement(w.watermark!));
        return;
      } catch (e) {
        this.cfg.log.debug('appending backfilled rows to their targets failed (a key is there already?); applying the batch with upserts', {
          flow: this.cfg.flowId,
          error: e instanceof Error ? e.message : String(e),
        });
      }
    }
    const used = new Set<LoadSlot>();
    /** Every row written by upsert: always right. */
    const script: string[] = [d.beginTransaction];
    /** The same with plain INSERTs and UPDATEs where plans allow (see `runApply`). */
    const fast = new FastScript(d.beginTransaction);
    let blame: TableLayout[] = [];
    try {
      for (const { layout, plan: planned, watermark } of work) {
        blame = [layout];
        let plan = planned;
        let load = await this.load(layout, plan, used);
        const completed = await completeFromSource(this.cfg.session, d, layout, plan, load, this.cfg.sourceRows, this.cfg.log);
        if (completed !== plan) {
          await this.cfg.session.execute(d.deleteAll(load.table));
          plan = completed;
          load = await this.load(layout, plan, used);
        }
        const statements = this.statements(layout, plan, load, 'upsert');
        script.push(...statements);
        const rows = fastRows(d, this.cfg.session, layout, plan);
        if (rows === 'upsert') fast.add(statements);
        else if (rows === 'insert') fast.add(this.statements(layout, plan, load, rows), true);
        else {
          const update = this.statements(layout, plan, load, rows);
          // The UPDATE is the statement before the load table is emptied.
          fast.add(update.slice(0, -2));
          fast.count(update.at(-2)!, plan.rows.length);
          fast.add(update.slice(-1));
        }
        if (watermark) {
          const moveTo = this.watermarkStatement(watermark);
          script.push(moveTo);
          fast.add([moveTo]);
        }
      }
      if (script.length === 1) return;
      script.push(d.commit);
      fast.add([d.commit]);
      blame = work.map((w) => w.layout);
      await runApply(this.cfg.session, d, fast, script, (e) => {
        this.cfg.log.debug('the fast apply did not fit the destination; applying the batch with upserts', {
          flow: this.cfg.flowId,
          error: e instanceof Error ? e.message : String(e),
        });
      });
    } catch (e) {
      await this.cfg.session.execute(d.rollback).catch(() => undefined);
      throw withTables(blame, e);
    }
    for (const slot of used) slot.dirty = false;
  }

  /**
   * `loadSnapshotFile` (see `ApplyStrategy`). Where a duplicate key fails a plain INSERT, the rows are
   * inserted first (every key new: no upsert's cost) and upserted only when a key is there (a
   * replayed chunk, a resync, rows the stream wrote before the backfill).
   */
  private async loadCsv(layout: TableLayout, file: SnapshotFile, watermark: TableWork['watermark']): Promise<void> {
    const { session, dialect: d } = this.cfg;
    if (!d.readCsvFile) throw new DuctError('internal', `${d.name} cannot read CSV files`, { retry: 'never' });
    const reader = d.readCsvFile(file.path, csvColumns(layout));
    const tail = watermark ? [this.watermarkStatement(watermark), d.commit] : [d.commit];
    const run = async (upsert: boolean): Promise<void> => {
      try {
        await session.executeScript([d.beginTransaction, csvInsertStatement(d, layout, file, reader, upsert), ...tail]);
      } catch (e) {
        await session.execute(d.rollback).catch(() => undefined);
        throw e;
      }
    };
    try {
      if (d.insertFailsOnDuplicateKey === true) {
        try {
          await run(false);
          return;
        } catch (e) {
          if (!DUPLICATE_KEY.test(e instanceof Error ? e.message : String(e))) throw e;
        }
      }
      await run(true);
    } catch (e) {
      throw withTables([layout], e);
    }
  }

  /**
   * Moves staged rows of `tables` into their targets and drops the staging tables, in one
   * transaction (see {@link resolveStatements}).
   */
  async resolveStaging(
    tables: TableRef[],
    mode: Exclude<BatchResolution, 'none'>,
    watermarks: Map<string, Watermark> | undefined,
    flowId: string,
  ): Promise<void> {
    const { session, dialect: d, options: o } = this.cfg;
    const script: string[] = [d.beginTransaction];
    for (const source of tables) {
      const staging = stagingName(source, o);
      const target = targetName(source, o);
      const columns = (await session.query(d.listColumns(staging))).map((r) => String(r.column_name));
      const key = (await session.query(d.listPrimaryKey(target))).map((r) => String(r.column_name));
      const meta = watermarks ? { flowId, watermarks } : undefined;
      script.push(...resolveStatements(d, { source, staging, target, columns, key }, mode, meta));
    }
    if (script.length === 1) return;
    script.push(d.commit);
    try {
      await session.executeScript(script);
    } catch (e) {
      await session.execute(d.rollback).catch(() => undefined);
      throw e;
    }
  }

  /** The statement that moves a table's watermark in the meta table. */
  private watermarkStatement(w: NonNullable<TableWork['watermark']>): string {
    const d = this.cfg.dialect;
    return w.existed ? updateWatermark(d, w.key, w.to, w.commitTimeMicros) : upsertWatermark(d, w.key, w.to, w.commitTimeMicros);
  }

  /** The statements that apply a loaded plan and then empty its load table. */
  private statements(layout: TableLayout, plan: TablePlan, load: LoadTable, rows: WriteRows): string[] {
    const d = this.cfg.dialect;
    const statements = applyStatements(d, layout, plan, load, rows);
    if (load.rowCount > 0) statements.push(d.deleteAll(load.table));
    return statements;
  }

  /** Loads a plan into a free load table (none when it has no rows). */
  private async load(layout: TableLayout, plan: TablePlan, used: Set<LoadSlot>): Promise<LoadTable> {
    const { session, dialect: d } = this.cfg;
    const data = buildLoadData(d, layout, plan);
    if (data.rowCount === 0) return { ...data, table: { schema: '', name: '' } };
    let slots = this.loadTables.get(data.signature);
    if (!slots) this.loadTables.set(data.signature, (slots = []));
    let slot = slots.find((s) => !used.has(s));
    if (!slot) {
      const name = `__ds_load_${this.loadTableCount++}`;
      const created = d.createLoadTable(name, data.defs);
      await session.execute(created.sql);
      slots.push((slot = { name, table: created.table, dirty: false, loaded: 0 }));
    } else if (slot.loaded >= LOAD_TABLE_RECREATE_ROWS) {
      // Emptying a table does not give its storage back (DuckDB keeps the row groups of deleted
      // rows, and scans them): replaced now and then, a load table stays small however long the
      // flow runs.
      await session.execute(d.createLoadTable(slot.name, data.defs).sql);
      slot.dirty = false;
      slot.loaded = 0;
    }
    used.add(slot);
    if (slot.dirty) await session.execute(d.deleteAll(slot.table));
    slot.dirty = true;
    slot.loaded += data.rowCount;
    await session.load(slot.table, data.columns, data.rowCount);
    return { ...data, table: slot.table };
  }
}

/** How a plain INSERT fails on a key the table holds (DuckDB: `Constraint Error: Duplicate key …`). */
const DUPLICATE_KEY = /duplicate key|violates primary key/i;

/** A reusable load table (see `SqlDdl.createLoadTable`). */
interface LoadSlot {
  name: string;
  table: QualifiedName;
  /** May hold rows of a failed batch: emptied before its next load. */
  dirty: boolean;
  /** Rows appended since it was (re)created. */
  loaded: number;
}

/** Rows a load table takes before it is replaced by an empty one (its storage grows until then). */
const LOAD_TABLE_RECREATE_ROWS = 200_000;
