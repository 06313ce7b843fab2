import type { TableSchema } from '../../core/change';
import type { SourceRowReader } from '../../core/sourceRows';
import type { SnapshotFileLoading } from '../destination';
import { csvTableRefusal, type SnapshotFile } from '../sql/snapshot-file';
import type { DestinationContext } from '../registry';
import { requireOpen } from '../requireOpen';
import { WarehouseDestination } from '../sql/warehouse-destination';
import { WarehouseWriter } from '../sql/writer';
import { openDuckdb, type DuckdbHandle } from './client';
import type { DuckdbConfig } from './config';
import { duckdbDialect } from './dialect';

/**
 * Writes changes into a DuckDB database file as typed rows (see {@link WarehouseWriter} for the
 * apply semantics).
 *
 * Contract (beyond `TableDestination`'s; applies `transactional`):
 * - `open()` opens or creates the file; tables are created on first sight of a table in a batch.
 * - `write(batch)` applies the whole batch in one DuckDB transaction together with the per-table
 *   watermarks of the meta table `ductstream_meta.__metadata`; it is durable when it resolves
 *   (DuckDB writes its WAL on commit). A batch written again, or an older batch, is skipped change
 *   by change, so replays neither duplicate nor regress rows. Errors are DuctErrors: bad data or a
 *   missing key `never`, conflicts `transient`, I/O (disk, lock) `backoff`.
 * - With `table` set, the destination writes one source table; a second one is refused.
 * - `batch_mode=staging` writes into staging tables; `resolveStaging` moves them into the targets.
 * - `applySchemaChange` alters the table to a new source shape (add/rename/retype columns; dropped
 *   columns kept unless `ddl_drop_columns=true`), idempotently, between writes.
 */
export class DuckdbDestination extends WarehouseDestination<DuckdbConfig> implements SnapshotFileLoading {
  readonly applies = 'transactional' as const;
  private handle: DuckdbHandle | undefined;
  private sourceRows: SourceRowReader | undefined;

  constructor(config: DuckdbConfig, ctx: DestinationContext) {
    super('duckdb', config, ctx);
  }

  /** The open connection, for reading the database back (tests and tools). */
  get connection(): DuckdbHandle['connection'] {
    return requireOpen(this.handle, this.kind, this.name).connection;
  }

  /** See {@link SnapshotFileLoading}; `backfill_csv=false` refuses every table. */
  csvLoadRefusal(table: TableSchema): string | undefined {
    if (!this.config.backfillCsv) return 'backfill_csv is false';
    return csvTableRefusal(table, this.config, duckdbDialect);
  }

  /** Loads a backfill chunk's CSV file with DuckDB's `read_csv` (see `WarehouseWriter.writeSnapshotFile`). */
  async writeSnapshotFile(file: SnapshotFile): Promise<void> {
    await this.serially(async () => {
      const started = Date.now();
      const summary = await this.requireWriter().writeSnapshotFile(file);
      this.log.debug('snapshot file loaded', { ...summary, rows: file.rows, ms: Date.now() - started });
    });
  }

  protected async connect(): Promise<WarehouseWriter> {
    this.handle = await openDuckdb(this.config.dsn, this.config.dsnField, `${this.ctx.flowId}\u0000${this.ctx.name}`, this.config.memoryLimit);
    this.sourceRows = this.ctx.sourceRows?.();
    return WarehouseWriter.transactional({
      ...(this.sourceRows ? { sourceRows: this.sourceRows } : {}),
      session: this.handle.session,
      dialect: duckdbDialect,
      options: this.config,
      flowId: this.ctx.flowId,
      log: this.log,
    });
  }

  protected async disconnect(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    const reader = this.sourceRows;
    this.sourceRows = undefined;
    await reader?.close();
    h?.close();
  }
}
