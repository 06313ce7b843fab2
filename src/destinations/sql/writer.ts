import { groupByTable, tableKey, type Batch, type Change, type TableRef } from '../../core/change';
import { DuctError, invalidArgument, isDuctError } from '../../core/errors';
import type { Logger } from '../../core/log';
import { qualified, type QualifiedName, type SqlDialect } from './dialect';
import { buildLoadData, type LoadTable } from './load-table';
import { layoutSignature, stagingName, tableLayout, targetName, type TableLayout } from './layout';
import {
  createMetaTableStatements,
  isApplied,
  parseWatermarkRows,
  selectWatermarks,
  updateWatermark,
  upsertWatermark,
  watermarkMapKey,
  type Watermark,
} from './meta-table';
import type { BatchResolution, WarehouseOptions } from './options';
import { planTable, type TablePlan } from './plan';
import type { SqlSession } from './session';
import { resolveStatements } from './staging';
import { applyStatements, type WriteRows } from './statements';
import { FastScript, fastRows, runApply } from './fast-apply';
import { completeFromSource } from './source-fill';
import { heldKeys } from './held-keys';
import type { SourceRowReader } from '../../core/sourceRows';

export interface WarehouseWriterConfig {
  session: SqlSession;
  dialect: SqlDialect;
  options: WarehouseOptions;
  flowId: string;
  log: Logger;
  /** Reads source rows by key, for unchanged TOAST values of rows the destination lacks (see {@link completeFromSource}). */
  sourceRows?: SourceRowReader;
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
 * Writes batches into warehouse tables through a {@link SqlSession} and a {@link SqlDialect}:
 * creates tables on first sight, loads each table's net changes into a load table and applies
 * them set-based, and moves the table's watermark in the meta table, all in one transaction.
 *
 * Guarantees (with `meta_table_enabled`, the default): a batch is applied atomically and durably
 * when `write` resolves; writing the same batch again, or an older one, changes nothing. Without the
 * meta table a batch written twice still gives the same rows in target mode (upserts), but an
 * older batch can regress rows and append mode duplicates them.
 *
 * Watermarks are per (flow, source table, destination table) and ordered by (commitLsn, seq):
 * callers that write the same source table from several writers of one flow concurrently (parallel
 * backfill partitions) must give each its own `flowId`, or their positions must not interleave.
 */
export class WarehouseWriter {
  /** Destination tables known to exist with a layout, by qualified name → layout signature. */
  private readonly ensured = new Map<string, string>();
  /**
   * Committed watermarks of this flow, read once from the meta table then kept in step with each
   * commit (this writer is the only writer of its flow's rows in the destination).
   */
  private watermarks: Map<string, Watermark> | undefined;
  /** With the `table` option: the one source table this destination writes. */
  private boundSource: string | undefined;
  /** Reusable load tables by column signature. */
  private readonly loadTables = new Map<string, LoadSlot[]>();
  private loadTableCount = 0;

  constructor(private readonly cfg: WarehouseWriterConfig) {}

  /**
   * Applies a batch: first, outside any transaction, tables are created and each table's net
   * changes are loaded into a session-private load table; then one script applies them all and
   * moves the watermarks between BEGIN and COMMIT, in one round trip.
   */
  async write(batch: Batch): Promise<WriteSummary> {
    const groups = groupByTable(batch.changes);
    this.checkFixedTable(groups);
    const summary: WriteSummary = { tables: 0, applied: 0, skipped: 0 };
    if (groups.size === 0) return summary;
    const { dialect: d, options: o } = this.cfg;
    const watermarks = await this.readWatermarks();
    const moved = new Map<string, Watermark>();
    const used = new Set<LoadSlot>();
    /** Every row written by upsert: always right. */
    const script: string[] = [d.beginTransaction];
    /** The same with plain INSERTs and UPDATEs where plans allow (see {@link executeApply}). */
    const fast = new FastScript(d.beginTransaction);
    /** The table being prepared, or every table of the script once it runs: who an error is about. */
    let blame: TableLayout[] = [];
    const applied: TableLayout[] = [];
    try {
      for (const [key, changes] of groups) {
        blame = [];
        const schema = batch.schemas.get(key);
        if (!schema) throw new DuctError('internal', `batch has changes of ${key} but no schema for it`, { retry: 'never' });
        const name = o.batchMode === 'staging' ? stagingName(schema, o) : targetName(schema, o);
        const layout = tableLayout(schema, name, o, d);
        blame = [layout];
        await this.ensureTable(layout);
        if (o.batchMode === 'staging') await this.ensureTable(tableLayout(schema, targetName(schema, o), o, d));
        const wmKey = watermarkMapKey(schema, name);
        const wm = watermarks.get(wmKey);
        const fresh = wm ? notApplied(wm, changes) : changes;
        summary.skipped += changes.length - fresh.length;
        if (fresh.length === 0) continue;
        summary.tables++;
        summary.applied += fresh.length;
        let plan = planTable(layout, fresh, await heldKeys(this.cfg.session, d, layout, fresh));
        let load = await this.load(layout, plan, used);
        const completed = await completeFromSource(this.cfg.session, d, layout, plan, load, this.cfg.sourceRows, this.cfg.log);
        if (completed !== plan) {
          await this.cfg.session.execute(d.deleteAll(load.table));
          plan = completed;
          load = await this.load(layout, plan, used);
        }
        const statements = this.apply(layout, plan, load, 'upsert');
        script.push(...statements);
        const rows = fastRows(d, this.cfg.session, layout, plan);
        if (rows === 'upsert') fast.add(statements);
        else if (rows === 'insert') fast.add(this.apply(layout, plan, load, rows), true);
        else {
          const update = this.apply(layout, plan, load, rows);
          // The UPDATE is the statement before the load table is emptied.
          fast.add(update.slice(0, -2));
          fast.count(update.at(-2)!, plan.rows.length);
          fast.add(update.slice(-1));
        }
        applied.push(layout);
        if (o.metaTableEnabled) {
          const last = fresh[fresh.length - 1]!;
          const next = { commitLsn: last.commitLsn, seq: last.seq };
          const k = { flowId: this.cfg.flowId, source: schema, target: name };
          const moveTo = wm ? updateWatermark(d, k, next, last.commitTimeMicros) : upsertWatermark(d, k, next, last.commitTimeMicros);
          script.push(moveTo);
          fast.add([moveTo]);
          moved.set(wmKey, next);
        }
      }
      if (script.length === 1) return summary;
      script.push(d.commit);
      fast.add([d.commit]);
      blame = applied;
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
    for (const [k, v] of moved) watermarks.set(k, v);
    if (summary.skipped > 0)
      this.cfg.log.info('skipped changes already applied (replay)', { flow: this.cfg.flowId, skipped: summary.skipped, applied: summary.applied });
    return summary;
  }

  /**
   * Moves staged rows of `tables` into their targets and drops the staging tables, in one
   * transaction (see {@link resolveStatements}). `none` leaves them staged.
   */
  async resolveStaging(tables: TableRef[], mode: BatchResolution): Promise<void> {
    if (mode === 'none') return;
    const { session, dialect: d, options: o } = this.cfg;
    const watermarks = await this.readWatermarks();
    const script: string[] = [d.beginTransaction];
    for (const source of tables) {
      const staging = stagingName(source, o);
      const target = targetName(source, o);
      const columns = (await session.query(d.listColumns(staging))).map((r) => String(r.column_name));
      const key = (await session.query(d.listPrimaryKey(target))).map((r) => String(r.column_name));
      const meta = o.metaTableEnabled ? { flowId: this.cfg.flowId, watermarks } : undefined;
      script.push(...resolveStatements(d, { source, staging, target, columns, key }, mode, meta));
    }
    if (script.length === 1) return;
    script.push(d.commit);
    this.watermarks = undefined;
    try {
      await session.executeScript(script);
    } catch (e) {
      await session.execute(d.rollback).catch(() => undefined);
      throw e;
    } finally {
      for (const source of tables) this.ensured.delete(qualified(d, stagingName(source, o)));
    }
  }

  /** The statements that apply a loaded plan and then empty its load table. */
  private apply(layout: TableLayout, plan: TablePlan, load: LoadTable, rows: WriteRows): string[] {
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

  private async readWatermarks(): Promise<Map<string, Watermark>> {
    const { session, dialect: d, options: o } = this.cfg;
    if (!o.metaTableEnabled) return new Map();
    if (!this.watermarks) {
      await session.executeScript(createMetaTableStatements(d));
      this.watermarks = parseWatermarkRows(await session.query(selectWatermarks(d, this.cfg.flowId)));
    }
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

  /** Creates the destination schema and table when missing (autocommit: idempotent DDL), once per layout. */
  private async ensureTable(layout: TableLayout): Promise<void> {
    const { session, dialect: d } = this.cfg;
    const name = qualified(d, layout.target);
    const signature = layoutSignature(layout);
    if (this.ensured.get(name) === signature) return;
    const columns = [
      ...layout.columns.map((c) => ({ name: c.name, type: c.ddlType })),
      ...layout.meta.map((m) => ({ name: m.name, type: d.typeName(m.type) })),
    ];
    await session.executeScript([d.createSchema(layout.target.schema), d.createTable(layout.target, columns, layout.constraintKey)]);
    const existing = new Set((await session.query(d.listColumns(layout.target))).map((r) => String(r.column_name)));
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

/** The changes past the watermark (all of them, the same array, when none is at or before it). */
function notApplied(wm: Watermark, changes: Change[]): Change[] {
  let i = 0;
  while (i < changes.length && !isApplied(wm, changes[i]!)) i++;
  if (i === changes.length) return changes;
  const out = changes.slice(0, i);
  for (i++; i < changes.length; i++) if (!isApplied(wm, changes[i]!)) out.push(changes[i]!);
  return out;
}

/** Prefixes an error with the table(s) it happened on, keeping its class; field errors stay as they are. */
function withTables(layouts: TableLayout[], e: unknown): unknown {
  if (layouts.length === 0) return e;
  const where = layouts.map((l) => `${tableKey(l.source)} → ${l.target.schema}.${l.target.name}`).join(', ');
  if (isDuctError(e)) {
    if (e.field !== undefined || e.message.startsWith(where)) return e;
    return new DuctError(e.code, `${where}: ${e.message}`, { retry: e.retry, hint: e.hint, field: e.field, cause: e });
  }
  return new DuctError('destination_failed', `${where}: ${e instanceof Error ? e.message : String(e)}`, { retry: 'transient', cause: e });
}

/** A reusable load table (see `SqlDialect.createLoadTable`). */
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
