import { createHash } from 'node:crypto';
import type { TableRef } from '../../core/change';
import { DuctError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { SourceRowReader } from '../../core/sourceRows';
import type { ApplyStrategy, EvolveTable, TableWork } from '../sql/apply-strategy';
import { qualified, type ColumnDef, type QualifiedName, type SqlDialect } from '../sql/dialect';
import { withTables } from '../sql/errors';
import { layoutSignature, stagingName, targetName, type TableLayout } from '../sql/layout';
import { createMetaTableStatements, deleteWatermark, parseWatermarkRows, selectWatermarks, watermarkMapKey, type Watermark } from '../sql/meta-table';
import type { BatchResolution } from '../sql/options';
import type { TablePlan } from '../sql/plan';
import type { SnowflakeClient } from './client';
import type { SnowflakeConfig } from './config';
import { snowflakeDialect } from './dialect';
import { applyStatements } from './merge';
import { addKeyColumns, createKeyMetaTable, mergeKeyMeta, mergeWatermark, type MetaTableNames } from './meta';
import { rawColumns, rawRows, type RawRows } from './raw';
import { loadRaw } from './raw-load';
import { completeStagedFromSource } from './source-fill';
import { evolveSnowflakeTable } from './evolve';

/**
 * The `staged` apply strategy of Snowflake: each table's planned rows are staged as text into a
 * TRANSIENT raw table (bound multi-row INSERT for small batches, else a PUT file + COPY INTO),
 * outside any transaction (rows keeping unchanged TOAST values of a target row that is not there are
 * completed from the source first, `completeStagedFromSource`); then one transaction runs, per
 * table, one MERGE (latest row per key via QUALIFY, deletes, key moves, unchanged TOAST from the target), the meta table's MERGE and the
 * watermark's MERGE, and commits. Visible and durable when `apply` resolves; on failure it rolls
 * back and nothing of the batch is visible. A replayed batch is skipped by the watermark (the
 * shared writer), and would be harmless anyway: a MERGE of the same rows changes nothing.
 */
export class SnowflakeStagedApply implements ApplyStrategy {
  readonly capability = 'staged' as const;
  readonly dialect: SqlDialect;
  private readonly meta: MetaTableNames;
  /** Raw tables created by this process, by target → layout signature. */
  private readonly raws = new Map<string, string>();
  /** Raw tables that may hold rows of an earlier batch. */
  private readonly dirty = new Set<string>();
  /** Key columns the meta table has (added when a table with new ones appears). */
  private readonly metaKeys = new Set<string>();
  /** Target keys seen in `ensureTable`, for resolving staged tables. */
  private readonly keys = new Map<string, string[]>();
  /** How the last batch was staged, per way (benchmarks and tests). */
  readonly loads = { bound: 0, staged: 0 };

  constructor(
    private readonly client: SnowflakeClient,
    private readonly config: SnowflakeConfig,
    private readonly scope: string,
    private readonly log: Logger,
    /** Reads the source's current rows, to complete unchanged TOAST values Snowflake lacks. */
    private readonly sourceRows: SourceRowReader | undefined,
  ) {
    this.dialect = snowflakeDialect(config.metaSchema, config.metaTable);
    this.meta = { table: { schema: config.metaSchema, name: config.metaTable }, pkPrefix: config.metaPkPrefix };
  }

  async ensureTable(layout: TableLayout, columns: ColumnDef[]): Promise<string[]> {
    const d = this.dialect;
    await this.client.execute(d.createSchema(layout.target.schema));
    await this.client.execute(d.createTable(layout.target, columns, layout.constraintKey));
    this.keys.set(qualified(d, layout.target), layout.key);
    return (await this.client.execute(d.listColumns(layout.target))).map((r) => String(r.column_name));
  }

  /**
   * The `evolution` of a Snowflake table: see {@link evolveSnowflakeTable} (ALTERs, column rebuilds
   * for retypes Snowflake refuses in place, primary key metadata). The raw table follows the new
   * layout on the next write (it is recreated when the layout changes); the MERGE uses the new key.
   */
  async evolveTable(input: EvolveTable): Promise<void> {
    await evolveSnowflakeTable(this.client, this.dialect, this.config, input);
    this.keys.delete(qualified(this.dialect, input.table));
  }

  async readWatermarks(flowId: string): Promise<Map<string, Watermark>> {
    for (const sql of [...createMetaTableStatements(this.dialect), ...createKeyMetaTable(this.meta)]) await this.client.execute(sql);
    return parseWatermarkRows(await this.client.execute(selectWatermarks(this.dialect, flowId)));
  }

  async apply(work: TableWork[]): Promise<void> {
    const d = this.dialect;
    const script: string[] = [];
    let blame: TableLayout[] = [];
    try {
      for (const { layout, plan: planned, watermark } of work) {
        blame = [layout];
        const raw = await this.rawTable(layout);
        let plan = planned;
        let rows = await this.stage(layout, plan, raw);
        const completed = await completeStagedFromSource(this.client, layout, plan, raw, rows, this.sourceRows, this.log);
        if (completed !== plan) {
          plan = completed;
          rows = await this.stage(layout, plan, raw);
        }
        script.push(...applyStatements(layout, raw, rows, plan.truncate !== null));
        if (watermark && layout.key.length > 0 && rows.rows.length > 0) {
          await this.ensureMetaKeys(layout);
          script.push(mergeKeyMeta(this.meta, watermark.key.flowId, layout.source, layout, raw));
        }
        if (watermark) script.push(mergeWatermark(d.metaTable, watermark));
      }
      if (script.length === 0) return;
      blame = work.map((w) => w.layout);
      await this.client.execute(d.beginTransaction);
      for (const sql of script) await this.client.execute(sql);
      await this.client.execute(d.commit);
    } catch (e) {
      await this.client.execute(d.rollback).catch(() => undefined);
      throw withTables(blame, e);
    }
  }

  /**
   * Moves staged rows into their targets in one transaction (append: MERGE by the target's key, or
   * INSERT without one; replace: the target's rows become the staged rows), moves the staged
   * watermark to the target when later, commits, then drops the staging tables (DDL commits).
   */
  async resolveStaging(
    tables: TableRef[],
    mode: Exclude<BatchResolution, 'none'>,
    watermarks: Map<string, Watermark> | undefined,
    flowId: string,
  ): Promise<void> {
    const d = this.dialect;
    const o = this.config;
    const script: string[] = [];
    const drops: string[] = [];
    for (const source of tables) {
      const staging = stagingName(source, o);
      const target = targetName(source, o);
      const columns = (await this.client.execute(d.listColumns(staging))).map((r) => String(r.column_name));
      if (columns.length === 0) continue;
      const key = this.keys.get(qualified(d, target)) ?? (await this.client.execute(d.listPrimaryKey(target))).map((r) => String(r.column_name));
      const select = `SELECT ${columns.map((c) => d.quoteIdent(c)).join(', ')} FROM ${qualified(d, staging)}`;
      if (mode === 'replace') script.push(d.deleteAll(target));
      if (mode === 'append' && key.length > 0) script.push(d.upsert(target, columns, key, select));
      else script.push(`INSERT INTO ${qualified(d, target)} (${columns.map((c) => d.quoteIdent(c)).join(', ')}) ${select}`);
      const staged = watermarks?.get(watermarkMapKey(source, staging));
      if (watermarks && staged) {
        const current = watermarks.get(watermarkMapKey(source, target));
        const later = !current || current.commitLsn < staged.commitLsn || (current.commitLsn === staged.commitLsn && current.seq < staged.seq);
        if (later)
          script.push(mergeWatermark(d.metaTable, { key: { flowId, source, target }, to: staged, commitTimeMicros: 0n, existed: current !== undefined }));
        script.push(deleteWatermark(d, { flowId, source, target: staging }));
      }
      drops.push(d.dropTable(staging));
    }
    if (script.length === 0) return;
    try {
      await this.client.execute(d.beginTransaction);
      for (const sql of script) await this.client.execute(sql);
      await this.client.execute(d.commit);
    } catch (e) {
      await this.client.execute(d.rollback).catch(() => undefined);
      throw e;
    }
    for (const sql of drops) await this.client.execute(sql);
  }

  /** Converts a plan to raw rows and loads them into `raw` (emptied first when it may hold earlier rows; left as is when there are none). */
  private async stage(layout: TableLayout, plan: TablePlan, raw: QualifiedName): Promise<RawRows> {
    let rows: RawRows;
    try {
      rows = rawRows(layout, plan);
    } catch (e) {
      throw new DuctError('destination_failed', `cannot stage the batch: ${(e as Error).message}`, { retry: 'never', cause: e });
    }
    if (rows.rows.length === 0) return rows;
    if (this.dirty.has(raw.name)) await this.client.execute(`TRUNCATE TABLE ${qualified(this.dialect, raw)}`);
    this.dirty.add(raw.name);
    this.loads[
      await loadRaw(
        this.client,
        raw,
        rawColumns(layout).map((c) => c.name),
        rows.rows,
      )
    ]++;
    return rows;
  }

  /** The raw table of a layout, (re)created as TRANSIENT the first time this process sees the layout. */
  private async rawTable(layout: TableLayout): Promise<QualifiedName> {
    const d = this.dialect;
    const id = createHash('sha256').update(`${this.scope}\u0000${layout.target.schema}\u0000${layout.target.name}`).digest('hex').slice(0, 12);
    const name = `__ds_raw_${id}`;
    const signature = layoutSignature(layout);
    const created = d.createLoadTable(name, rawColumns(layout));
    if (this.raws.get(name) !== signature) {
      await this.client.execute(d.createSchema(this.config.metaSchema));
      await this.client.execute(created.sql);
      this.raws.set(name, signature);
      this.dirty.delete(name);
      this.log.debug('raw table ready', { table: `${created.table.schema}.${name}` });
    }
    return created.table;
  }

  private async ensureMetaKeys(layout: TableLayout): Promise<void> {
    const missing = layout.key.filter((k) => !this.metaKeys.has(k));
    if (missing.length === 0) return;
    for (const sql of addKeyColumns(this.meta, { ...layout, key: missing })) await this.client.execute(sql);
    for (const k of missing) this.metaKeys.add(k);
  }
}
