import type { Change, Row, TableRef, Value } from '../../core/change';
import { DuctError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { SourceRowReader } from '../../core/sourceRows';
import type { ApplyCapability, ApplyStrategy, EvolveTable, TableWork } from '../sql/apply-strategy';
import type { ColumnDef } from '../sql/dialect';
import { withTables } from '../sql/errors';
import { stagingName, targetName, type TableLayout } from '../sql/layout';
import { laterWatermark, watermarkMapKey, type Watermark } from '../sql/meta-table';
import type { BatchResolution, WarehouseOptions } from '../sql/options';
import type { PlannedRow, TablePlan } from '../sql/plan';
import type { ClickhouseConnection } from './client';
import type { ClickhouseApplyMode } from './config';
import { createDatabase, createTable, isVersioned, listColumns, listSortingKey } from './ddl';
import { evolveClickhouseTable } from './evolve';
import { readFill, type FillScope } from './fill';
import type { ClickhouseMeta } from './meta';
import { completeFillFromSource, type CompletedFill } from './source-fill';
import type { TsvRows } from './rows';
import { literalEncoder } from './tsv';
import { qualifiedName, quoteIdent } from './types';

/** Where values ClickHouse lacks come from: the source's current rows (absent when no source is at hand). */
export interface FillSource {
  rows: SourceRowReader | undefined;
  log: Logger;
}

/** Settings of statements that carry key lists (far longer than the default 256 KiB query size). */
export const LONG_QUERY = { max_query_size: '268435456' } as const;

const q = quoteIdent;

/**
 * What both ClickHouse apply strategies share: table DDL, the meta table, staging resolution and
 * key lists, and the order of an apply (rows, then watermarks). Subclasses apply a table's planned rows
 * (`applyTable`) and say what that guarantees (`capability`).
 */
export abstract class ClickhouseTables implements ApplyStrategy {
  abstract readonly capability: ApplyCapability;

  constructor(
    protected readonly conn: ClickhouseConnection,
    protected readonly options: WarehouseOptions,
    protected readonly meta: ClickhouseMeta,
    private readonly mode: ClickhouseApplyMode,
    private readonly source: FillSource,
  ) {}

  /** The destination values `rows` keep (see `readFill`), completed from the source for rows ClickHouse lacks. */
  protected async fillFor(layout: TableLayout, rows: PlannedRow[], scope: FillScope): Promise<CompletedFill> {
    const fill = await readFill(this.conn, layout, rows, scope);
    return completeFillFromSource(layout, rows, fill, this.source.rows, this.source.log);
  }

  /**
   * Applies each table's plan in turn ({@link applyTable}), then inserts the watermarks of the tables
   * that moved: a watermark is written only after its rows. A failure names the table it came from.
   */
  async apply(work: TableWork[]): Promise<void> {
    for (const { layout, plan } of work) {
      try {
        await this.applyTable(layout, plan);
      } catch (e) {
        throw withTables([layout], e);
      }
    }
    const moves = work.flatMap((w) => (w.watermark ? [w.watermark] : []));
    if (moves.length > 0) await this.meta.write(moves);
  }

  /** Applies one table's planned rows as the subclass's capability says. */
  protected abstract applyTable(layout: TableLayout, plan: TablePlan): Promise<void>;

  async ensureTable(layout: TableLayout, columns: ColumnDef[]): Promise<string[]> {
    await this.conn.command(createDatabase(layout.target.schema));
    await this.conn.command(createTable(layout, columns, this.mode));
    return (await this.conn.rows(listColumns(layout.target))).map((r) => String(r.column_name));
  }

  /** The `evolution` of a table: see {@link evolveClickhouseTable}. */
  async evolveTable(input: EvolveTable): Promise<void> {
    await evolveClickhouseTable(this.conn, input, this.mode);
  }

  async readWatermarks(flowId: string): Promise<Map<string, Watermark>> {
    await this.meta.ensure();
    return this.meta.read(flowId);
  }

  /**
   * `append`: staged rows go into the target (versioned rows keep their versions, so readers with
   * `FINAL` see the later of staged and streamed; in mutations mode target rows with staged keys are
   * deleted first); `replace`: the tables are swapped (`EXCHANGE TABLES`, atomic) and the old target
   * dropped. Then the staged watermark moves to the target when later, and the staging table goes.
   * Not one transaction: each step is safe to repeat if resolution is run again after a failure.
   */
  async resolveStaging(
    tables: TableRef[],
    mode: Exclude<BatchResolution, 'none'>,
    watermarks: Map<string, Watermark> | undefined,
    flowId: string,
  ): Promise<void> {
    for (const source of tables) {
      const staging = stagingName(source, this.options);
      const target = targetName(source, this.options);
      const columns = (await this.conn.rows(listColumns(staging))).map((r) => String(r.column_name));
      if (columns.length === 0) continue;
      const list = columns.map(q).join(', ');
      if (mode === 'replace') {
        await this.conn.command(`EXCHANGE TABLES ${qualifiedName(target)} AND ${qualifiedName(staging)}`);
      } else {
        const key = (await this.conn.rows(listSortingKey(target))).map((r) => String(r.column_name));
        if (this.mode === 'mutations' && key.length > 0 && !key.includes('__ds_lsn')) {
          const keys = key.map(q).join(', ');
          await this.conn.command(`ALTER TABLE ${qualifiedName(target)} DELETE WHERE (${keys}) IN (SELECT ${keys} FROM ${qualifiedName(staging)})`, {
            mutations_sync: '2',
          });
        }
        await this.conn.command(`INSERT INTO ${qualifiedName(target)} (${list}) SELECT ${list} FROM ${qualifiedName(staging)}`);
      }
      if (watermarks) {
        const staged = watermarks.get(watermarkMapKey(source, staging));
        const current = watermarks.get(watermarkMapKey(source, target));
        if (staged && laterWatermark(current, staged) === staged) {
          await this.meta.write([
            { key: { flowId, source, target }, to: staged, commitTimeMicros: BigInt(Date.now()) * 1000n, existed: current !== undefined },
          ]);
        }
        if (staged) await this.meta.remove({ flowId, source, target: staging });
      }
      await this.conn.command(`DROP TABLE IF EXISTS ${qualifiedName(staging)}`);
    }
  }

  /** `(k1, k2) IN ((…), (…))` for the keys of `rows` (a key per row, from `keyOf`). */
  protected keyIn(layout: TableLayout, rows: Row[]): string {
    const keyCols = layout.key.map((k) => layout.columns.find((c) => c.name === k)!);
    const literals = keyCols.map((c) => literalEncoder(c.load));
    const tuples = new Set(rows.map((r) => '(' + keyCols.map((c, i) => literals[i]!(r[c.name] as Exclude<Value, null>)).join(', ') + ')'));
    return `(${keyCols.map((c) => q(c.name)).join(', ')}) IN (${[...tuples].join(', ')})`;
  }

  /** Inserts the rows (none: nothing sent). */
  protected async insertRows(table: string, rows: TsvRows): Promise<void> {
    if (rows.rowCount === 0) return;
    const viaSelect = rows.variantInsert(table);
    if (viaSelect !== undefined) await this.conn.command(viaSelect);
    else await this.conn.insertTsv(table, rows.columns.map(q), rows.data());
  }

  protected versioned(layout: TableLayout): boolean {
    return isVersioned(layout, this.mode);
  }
}

/** Tables without a primary key take inserts only in ClickHouse: rows cannot be matched for an update or delete. */
export function keylessChangeError(layout: TableLayout, c: Change): DuctError {
  const t = `${layout.source.schema}.${layout.source.name}`;
  return new DuctError(
    'failed_precondition',
    `cannot apply ${c.op} to ClickHouse table ${layout.target.schema}.${layout.target.name}: source table ${t} has no primary key`,
    {
      retry: 'never',
      hint: `add a primary key to ${t} (ClickHouse matches rows by it), or set write_mode=append to keep every change as a row`,
    },
  );
}
