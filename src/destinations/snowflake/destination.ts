import type { SourceRowReader } from '../../core/sourceRows';
import type { DestinationContext } from '../registry';
import { WarehouseDestination } from '../sql/warehouse-destination';
import { WarehouseWriter } from '../sql/writer';
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
 * - Unchanged TOAST values of rows the target does not hold are read from the source's current
 *   row by key (`completeStagedFromSource`), never written as NULL.
 * - `write(batch)` stages each table's net changes, then MERGEs them and moves the watermarks in
 *   one transaction: durable and visible when it resolves, nothing visible if it fails. A batch
 *   written again, or an older one, is skipped by the watermarks (`meta_table_enabled`).
 * - With `table` set the destination writes one source table; `batch_mode=staging` writes staging
 *   tables that `resolveStaging` moves into the targets.
 */
export class SnowflakeDestination extends WarehouseDestination<SnowflakeConfig> {
  readonly applies = 'staged' as const;
  private client: SnowflakeClient | undefined;
  private strategy: SnowflakeStagedApply | undefined;
  private sourceRows: SourceRowReader | undefined;

  constructor(config: SnowflakeConfig, ctx: DestinationContext) {
    super('snowflake', config, ctx);
  }

  /** Statements sent and bytes uploaded so far (benchmarks). */
  get stats(): { statements: number; uploadedBytes: number; boundLoads: number; stagedLoads: number } {
    const s = this.client?.stats ?? { statements: 0, uploadedBytes: 0 };
    return { ...s, boundLoads: this.strategy?.loads.bound ?? 0, stagedLoads: this.strategy?.loads.staged ?? 0 };
  }

  protected async connect(): Promise<WarehouseWriter> {
    this.client = await connectSnowflake(this.config.connection, this.log);
    this.sourceRows = this.ctx.sourceRows?.();
    this.strategy = new SnowflakeStagedApply(this.client, this.config, `${this.ctx.flowId}/${this.ctx.name}`, this.log, this.sourceRows);
    return new WarehouseWriter({ apply: this.strategy, types: snowflakeTypes, options: this.config, flowId: this.ctx.flowId, log: this.log });
  }

  protected async disconnect(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.strategy = undefined;
    const reader = this.sourceRows;
    this.sourceRows = undefined;
    await reader?.close().catch(() => undefined);
    await c?.close();
  }
}
