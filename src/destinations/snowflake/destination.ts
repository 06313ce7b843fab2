import type { TableRef } from '../../core/change';
import type { SchemaChange } from '../../core/schemaChange';
import { DuctError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { EncodedBatch, SchemaEvolving, Staged, TableDestination } from '../destination';
import type { DestinationContext } from '../registry';
import type { BatchResolution } from '../sql/options';
import { WarehouseWriter, type WriteSummary } from '../sql/writer';
import { connectSnowflake, type SnowflakeClient } from './client';
import type { SnowflakeConfig } from './config';
import { snowflakeTypes } from './dialect';
import { SnowflakeStagedApply } from './staged-apply';

/**
 * Writes changes into Snowflake tables through the official snowflake-sdk (see
 * {@link SnowflakeStagedApply} for the apply and {@link WarehouseWriter} for planning).
 *
 * Contract (beyond `TableDestination`'s; applies `staged`):
 * - `open()` logs in (a refused login fails naming `dsn`, never retried; an unreachable endpoint is
 *   retried by the flow); tables, the meta table and raw tables are created on first sight.
 * - `write(batch)` stages each table's net changes, then MERGEs them and moves the watermarks in
 *   one transaction: durable and visible when it resolves, nothing visible if it fails. A batch
 *   written again, or an older one, is skipped by the watermarks (`meta_table_enabled`).
 * - With `table` set the destination writes one source table; `batch_mode=staging` writes staging
 *   tables that `resolveStaging` moves into the targets.
 * - `applySchemaChange` alters the tables to a source table's new shape between writes (see
 *   `SnowflakeStagedApply.evolveTable`), idempotently.
 */
export class SnowflakeDestination implements TableDestination, Staged, SchemaEvolving {
  readonly kind = 'snowflake';
  readonly applies = 'staged' as const;
  readonly name: string;
  private client: SnowflakeClient | undefined;
  private strategy: SnowflakeStagedApply | undefined;
  private writer: WarehouseWriter | undefined;
  private readonly log: Logger;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly config: SnowflakeConfig,
    private readonly ctx: DestinationContext,
  ) {
    this.name = ctx.name;
    this.log = ctx.log.child({ destination: ctx.name, kind: 'snowflake' });
  }

  get batchResolution(): BatchResolution {
    return this.config.batchResolution;
  }

  async open(): Promise<void> {
    if (this.client) return;
    this.client = await connectSnowflake(this.config.connection, this.log);
    this.strategy = new SnowflakeStagedApply(this.client, this.config, `${this.ctx.flowId}/${this.ctx.name}`, this.log);
    this.writer = new WarehouseWriter({ apply: this.strategy, types: snowflakeTypes, options: this.config, flowId: this.ctx.flowId, log: this.log });
  }

  async write(batch: EncodedBatch): Promise<void> {
    await this.writeBatch(batch);
  }

  /** `write`, returning what was applied and what a replay skipped. */
  async writeBatch(batch: EncodedBatch): Promise<WriteSummary> {
    return this.serially(() => this.requireWriter().write(batch));
  }

  async resolveStaging(tables: TableRef[], mode: BatchResolution = this.config.batchResolution): Promise<void> {
    await this.serially(() => this.requireWriter().resolveStaging(tables, mode));
  }

  async applySchemaChange(change: SchemaChange): Promise<void> {
    await this.serially(() => this.requireWriter().applySchemaChange(change));
  }

  /** Statements sent and bytes uploaded so far (benchmarks). */
  get stats(): { statements: number; uploadedBytes: number; boundLoads: number; stagedLoads: number } {
    const s = this.client?.stats ?? { statements: 0, uploadedBytes: 0 };
    return { ...s, boundLoads: this.strategy?.loads.bound ?? 0, stagedLoads: this.strategy?.loads.staged ?? 0 };
  }

  async close(): Promise<void> {
    await this.tail;
    const c = this.client;
    this.client = undefined;
    this.writer = undefined;
    this.strategy = undefined;
    await c?.close();
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private requireWriter(): WarehouseWriter {
    if (!this.writer)
      throw new DuctError('failed_precondition', `snowflake destination "${this.name}" is not open`, { retry: 'never', hint: 'call open() first' });
    return this.writer;
  }
}
