import type { TableRef } from '../../core/change';
import type { Logger } from '../../core/log';
import { Serial } from '../../core/serial';
import type { SchemaChange } from '../../core/schemaChange';
import type { ApplyCapability, EncodedBatch, SchemaEvolving, Staged, TableDestination } from '../destination';
import type { DestinationContext } from '../registry';
import { requireOpen } from '../requireOpen';
import type { BatchResolution, WarehouseOptions } from './options';
import type { WarehouseWriter, WriteSummary } from './writer';

/**
 * What the table destinations built on {@link WarehouseWriter} (duckdb, clickhouse, snowflake) share:
 * the open/write/resolve/close life cycle over one connection. A kind supplies `connect` (log in,
 * build its writer with its apply strategy) and `disconnect`.
 *
 * Contract (with `TableDestination`'s):
 * - `open()` connects once; calling it again while open does nothing. A failed `open()` disconnects
 *   what it had opened.
 * - `write`, `resolveStaging` and whatever a kind adds through {@link serially} run one at a time in
 *   call order on the one connection; a failed one does not block the next.
 * - `close()` waits for queued work to settle, then disconnects; safe to call twice and after a
 *   failed `open()`. Using the destination when it is not open is `failed_precondition`, never retried.
 * - `applySchemaChange` runs in that same order, between writes: the writer alters the tables of a
 *   source table to its new shape through the apply strategy's `evolveTable`, idempotently.
 */
export abstract class WarehouseDestination<C extends WarehouseOptions> implements TableDestination, Staged, SchemaEvolving {
  abstract readonly applies: ApplyCapability;
  readonly name: string;
  protected readonly log: Logger;
  private readonly serial = new Serial();
  private writer: WarehouseWriter | undefined;

  constructor(
    readonly kind: string,
    readonly config: C,
    protected readonly ctx: DestinationContext,
  ) {
    this.name = ctx.name;
    this.log = ctx.log.child({ destination: ctx.name, kind });
  }

  /** `batch_resolution`: what callers of {@link resolveStaging} should pass for this destination. */
  get batchResolution(): BatchResolution {
    return this.config.batchResolution;
  }

  async open(): Promise<void> {
    if (this.writer) return;
    try {
      this.writer = await this.connect();
    } catch (e) {
      await this.disconnect().catch(() => undefined);
      throw e;
    }
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
    await this.serial.idle();
    this.writer = undefined;
    await this.disconnect();
  }

  /** Connects and returns the writer that applies batches; called by `open()` while closed. */
  protected abstract connect(): Promise<WarehouseWriter>;

  /** Releases what `connect` opened (also after a `connect` that failed part way); safe to call twice. */
  protected abstract disconnect(): Promise<void>;

  /** Runs `fn` after every write and resolution queued before it. */
  protected serially<T>(fn: () => Promise<T>): Promise<T> {
    return this.serial.run(fn);
  }

  protected requireWriter(): WarehouseWriter {
    return requireOpen(this.writer, this.kind, this.name);
  }
}
