import type { TableRef } from '../../core/change';
import type { SchemaChange } from '../../core/schemaChange';
import { DuctError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { SourceRowReader } from '../../core/sourceRows';
import type { ApplyCapability, EncodedBatch, SchemaEvolving, Staged, TableDestination } from '../destination';
import type { DestinationContext } from '../registry';
import type { BatchResolution } from '../sql/options';
import { WarehouseWriter, type WriteSummary } from '../sql/writer';
import { ClickhouseConnection } from './client';
import type { ClickhouseConfig } from './config';
import { ClickhouseMeta } from './meta';
import { MutationsApply } from './mutations-apply';
import type { ClickhouseTables, FillSource } from './tables';
import { clickhouseTypes } from './types';
import { VersionedApply } from './versioned-apply';

/**
 * Writes changes into ClickHouse tables over its HTTP interface (`@clickhouse/client`); the
 * planning is the shared SQL layer's ({@link WarehouseWriter}), the apply is ClickHouse's own.
 *
 * Contract (beyond `TableDestination`'s):
 * - `open()` pings the server once: an unreachable `dsn` fails at once with an error naming the
 *   option (retry `backoff`), and nothing is created. Databases and tables are created on first
 *   sight of a table (`CREATE … IF NOT EXISTS`), the meta table on the first write.
 * - `apply_mode=versioned` (default) applies as `versioned_append` (read with `FINAL`);
 *   `apply_mode=mutations` applies `in_place` (plain reads). See `VersionedApply`, `MutationsApply`.
 * - `write(batch)` resolves when the rows, then the watermarks, are inserted: durable against a
 *   crash of either process (ClickHouse writes parts before it answers; set the table setting
 *   `fsync_after_insert` for power loss). A replayed or older batch is skipped up to the watermark;
 *   rows written again past it carry the same versions (versioned) or replace the same keys
 *   (mutations): no effect. Each request is retried while the server is away (about a minute),
 *   then the error goes to the flow's step retries. Bad data or SQL is `never`.
 * - Unchanged TOAST values of a row ClickHouse does not hold are read from the source's current
 *   row by key (`completeFillFromSource`), never written as NULL.
 * - `batch_mode=staging` writes staging tables; `resolveStaging` moves them into the targets.
 * - `applySchemaChange` alters the tables of a source table to its new shape (see
 *   `evolveClickhouseTable`), between writes, idempotently.
 */
export class ClickhouseDestination implements TableDestination, Staged, SchemaEvolving {
  readonly kind = 'clickhouse';
  readonly name: string;
  readonly applies: ApplyCapability;
  private conn: ClickhouseConnection | undefined;
  private writer: WarehouseWriter | undefined;
  private sourceRows: SourceRowReader | undefined;
  private readonly log: Logger;
  /** Writes and resolutions run one at a time, in call order. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly config: ClickhouseConfig,
    private readonly ctx: DestinationContext,
  ) {
    this.name = ctx.name;
    this.log = ctx.log.child({ destination: ctx.name, kind: 'clickhouse' });
    this.applies = config.applyMode === 'mutations' ? 'in_place' : 'versioned_append';
  }

  get batchResolution(): BatchResolution {
    return this.config.batchResolution;
  }

  async open(): Promise<void> {
    if (this.conn) return;
    const c = this.config;
    const conn = new ClickhouseConnection(c.dsn, c.dsnField, c.requestTimeoutMs);
    try {
      await conn.ping();
    } catch (e) {
      await conn.close().catch(() => undefined);
      throw new DuctError('unavailable', `clickhouse destination "${this.name}": ${(e as Error).message}`, {
        retry: 'backoff',
        field: c.dsnField,
        hint: (e as DuctError).hint,
        cause: e,
      });
    }
    const meta = new ClickhouseMeta(conn, c.metaEngine, c.metaOrderBy);
    this.sourceRows = this.ctx.sourceRows?.();
    const source: FillSource = { rows: this.sourceRows, log: this.log };
    const apply: ClickhouseTables =
      c.applyMode === 'mutations' ? new MutationsApply(conn, c, meta, 'mutations', source) : new VersionedApply(conn, c, meta, 'versioned', source);
    this.conn = conn;
    this.writer = new WarehouseWriter({ apply, types: clickhouseTypes, options: c, flowId: this.ctx.flowId, log: this.log });
  }

  async write(batch: EncodedBatch): Promise<void> {
    await this.writeBatch(batch);
  }

  /** `write`, returning what was applied and what a replay skipped. */
  async writeBatch(batch: EncodedBatch): Promise<WriteSummary> {
    return this.serially(async () => {
      const started = Date.now();
      const summary = await this.requireWriter().write(batch);
      this.log.debug('batch written', { ...summary, changes: batch.changes.length, ms: Date.now() - started });
      return summary;
    });
  }

  async resolveStaging(tables: TableRef[], mode: BatchResolution = this.config.batchResolution): Promise<void> {
    await this.serially(() => this.requireWriter().resolveStaging(tables, mode));
  }

  async applySchemaChange(change: SchemaChange): Promise<void> {
    await this.serially(() => this.requireWriter().applySchemaChange(change));
  }

  async close(): Promise<void> {
    await this.tail;
    const conn = this.conn;
    const sourceRows = this.sourceRows;
    this.conn = undefined;
    this.writer = undefined;
    this.sourceRows = undefined;
    await sourceRows?.close().catch(() => undefined);
    await conn?.close();
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private requireWriter(): WarehouseWriter {
    if (!this.writer)
      throw new DuctError('failed_precondition', `clickhouse destination "${this.name}" is not open`, { retry: 'never', hint: 'call open() first' });
    return this.writer;
  }
}
