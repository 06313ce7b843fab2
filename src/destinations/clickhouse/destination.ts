import { DuctError } from '../../core/errors';
import type { SourceRowReader } from '../../core/sourceRows';
import type { ApplyCapability } from '../destination';
import type { DestinationContext } from '../registry';
import { WarehouseDestination } from '../sql/warehouse-destination';
import { WarehouseWriter } from '../sql/writer';
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
 */
export class ClickhouseDestination extends WarehouseDestination<ClickhouseConfig> {
  readonly applies: ApplyCapability;
  private conn: ClickhouseConnection | undefined;
  private sourceRows: SourceRowReader | undefined;

  constructor(config: ClickhouseConfig, ctx: DestinationContext) {
    super('clickhouse', config, ctx);
    this.applies = config.applyMode === 'mutations' ? 'in_place' : 'versioned_append';
  }

  protected async connect(): Promise<WarehouseWriter> {
    const c = this.config;
    const conn = new ClickhouseConnection(c.dsn, c.dsnField, c.requestTimeoutMs);
    this.conn = conn;
    try {
      await conn.ping();
    } catch (e) {
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
    return new WarehouseWriter({ apply, types: clickhouseTypes, options: c, flowId: this.ctx.flowId, log: this.log });
  }

  protected async disconnect(): Promise<void> {
    const conn = this.conn;
    const sourceRows = this.sourceRows;
    this.conn = undefined;
    this.sourceRows = undefined;
    await sourceRows?.close().catch(() => undefined);
    await conn?.close();
  }
}
