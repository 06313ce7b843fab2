import type { TableRef } from '../../core/change';
import { DuctError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { SourceRowReader } from '../../core/sourceRows';
import type { Destination, EncodedBatch, Staged } from '../destination';
import type { DestinationContext } from '../registry';
import type { BatchResolution } from '../sql/options';
import { WarehouseWriter, type WriteSummary } from '../sql/writer';
import { openDuckdb, type DuckdbHandle } from './client';
import type { DuckdbConfig } from './config';
import { duckdbDialect } from './dialect';

/**
 * Writes changes into a DuckDB database file as typed rows (see {@link WarehouseWriter} for the
 * apply semantics).
 *
 * Contract (beyond `Destination`'s):
 * - `open()` opens or creates the file; tables are created on first sight of a table in a batch.
 * - `write(batch)` applies the whole batch in one DuckDB transaction together with the per-table
 *   watermarks of the meta table `ductstream_meta.__metadata`; it is durable when it resolves
 *   (DuckDB writes its WAL on commit). A batch written again, or an older batch, is skipped change
 *   by change, so replays neither duplicate nor regress rows. Errors are DuctErrors: bad data or a
 *   missing key `never`, conflicts `transient`, I/O (disk, lock) `backoff`.
 * - With `table` set, the destination writes one source table; a second one is refused.
 * - `batch_mode=staging` writes into staging tables; `resolveStaging` moves them into the targets.
 */
export class DuckdbDestination implements Destination, Staged {
  readonly kind = 'duckdb';
  readonly name: string;
  private handle: DuckdbHandle | undefined;
  private writer: WarehouseWriter | undefined;
  private sourceRows: SourceRowReader | undefined;
  private readonly log: Logger;
  /** Writes and resolutions run one at a time on the one connection, in call order. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly config: DuckdbConfig,
    private readonly ctx: DestinationContext,
  ) {
    this.name = ctx.name;
    this.log = ctx.log.child({ destination: ctx.name, kind: 'duckdb' });
  }

  /** `batch_resolution`: what callers of {@link resolveStaging} should pass for this destination. */
  get batchResolution(): BatchResolution {
    return this.config.batchResolution;
  }

  async open(): Promise<void> {
    if (this.handle) return;
    this.handle = await openDuckdb(this.config.dsn, this.config.dsnField, `${this.ctx.flowId}\u0000${this.ctx.name}`);
    this.sourceRows = this.ctx.sourceRows?.();
    this.writer = new WarehouseWriter({
      ...(this.sourceRows ? { sourceRows: this.sourceRows } : {}),
      session: this.handle.session,
      dialect: duckdbDialect,
      options: this.config,
      flowId: this.ctx.flowId,
      log: this.log,
    });
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

  async close(): Promise<void> {
    await this.tail;
    const h = this.handle;
    this.handle = undefined;
    this.writer = undefined;
    const reader = this.sourceRows;
    this.sourceRows = undefined;
    await reader?.close();
    h?.close();
  }

  /** The open connection, for reading the database back (tests and tools). */
  get connection(): DuckdbHandle['connection'] {
    if (!this.handle) throw notOpen(this.name);
    return this.handle.connection;
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private requireWriter(): WarehouseWriter {
    if (!this.writer) throw notOpen(this.name);
    return this.writer;
  }
}

function notOpen(name: string): DuctError {
  return new DuctError('failed_precondition', `duckdb destination "${name}" is not open`, { retry: 'never', hint: 'call open() first' });
}
