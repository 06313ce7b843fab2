import { Pool, type PoolClient } from 'pg';
import { DuctError, describeError, isDuctError } from '../../core/errors';
import type { Logger } from '../../core/log';
import { appendEvents, registerStream, trimAckedEvents } from '../../pgstream/eventLog';
import { ensureStreamSchema } from '../../pgstream/schema';
import { connectError, isConnectionLoss } from '../../source/postgres/errors';
import type { WireFormat } from '../../wire/codec';
import type { EncodedBatch, EventDestination } from '../destination';
import type { DestinationContext } from '../registry';
import { streamNameOf, type PgstreamConfig } from '../../pgstream/config';
import { eventRowsOf } from './events';
import { Serial } from '../../core/serial';
import { requireOpen } from '../requireOpen';

/**
 * Writes every change as one event of a Postgres-backed stream (tables in schema
 * `ductstream_stream` of `dsn`, see src/pgstream/schema.ts), for consumer groups to pull.
 *
 * Contract (beyond `EventDestination`'s: at-least-once; the stream stores each position once, so a replay adds nothing):
 * - `open()` creates the stream tables when missing and registers the stream with the resolved
 *   wire format; it fails naming `dsn` when the database cannot be reached or refuses.
 * - `write(batch)` appends the batch's changes in one transaction (durable on COMMIT). Each event is
 *   unique on (stream, commit LSN, seq): a batch written twice, or an older batch again, stores
 *   each change once, so replays after a crash never duplicate events. Events keep stream order.
 * - With `trim_acked`, events every group has acked are deleted after a write, at most once per
 *   `trim_interval`; a failed trim is logged and retried at the next interval, never fails a write.
 * - Errors: lost connections and lock timeouts are `transient`; a full disk or too many
 *   connections `backoff`; anything else `never` (the flow stops with the reason).
 */
export class PgstreamDestination implements EventDestination {
  readonly delivery = 'at_least_once' as const;
  readonly kind = 'pgstream';
  readonly name: string;
  readonly stream: string;
  readonly format: WireFormat;
  private pool: Pool | undefined;
  private streamId: number | undefined;
  private lastTrim = Date.now();
  private readonly log: Logger;
  private readonly serial = new Serial();

  constructor(
    readonly config: PgstreamConfig,
    private readonly ctx: DestinationContext,
  ) {
    this.name = ctx.name;
    this.stream = streamNameOf(config, ctx.name);
    this.format = ctx.wireFormat;
    this.log = ctx.log.child({ destination: ctx.name, kind: 'pgstream', stream: this.stream });
  }

  async open(): Promise<void> {
    if (this.pool) return;
    const pool = new Pool({ connectionString: this.config.dsn, max: 2, application_name: 'ductstream-pgstream' });
    pool.on('error', () => undefined);
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw connectError(e, this.config.dsn, this.config.dsnField);
    }
    try {
      await ensureStreamSchema(client);
      this.streamId = await registerStream(client, this.stream, this.format, this.ctx.flowId);
      this.pool = pool;
    } catch (e) {
      client.release();
      await pool.end().catch(() => undefined);
      throw writeError(e, this.stream, 'prepare the stream tables');
    }
    client.release();
  }

  async write(batch: EncodedBatch): Promise<void> {
    await this.writeBatch(batch);
  }

  /** `write`, returning how many events were new (the rest were already stored). */
  async writeBatch(batch: EncodedBatch): Promise<number> {
    return this.serial.run(async () => {
      const pool = this.requirePool();
      const rows = eventRowsOf(batch, this.format);
      if (rows.length === 0) return 0;
      const client = await pool.connect().catch((e: unknown) => {
        throw connectError(e, this.config.dsn, this.config.dsnField);
      });
      try {
        const inserted = await appendEvents(client, this.streamId!, rows);
        this.log.debug('events written', { events: rows.length, new: inserted });
        if (this.config.trimAcked && Date.now() - this.lastTrim >= this.config.trimIntervalMs) await this.trim(client);
        return inserted;
      } catch (e) {
        throw writeError(e, this.stream, 'append events');
      } finally {
        client.release();
      }
    });
  }

  async close(): Promise<void> {
    await this.serial.idle();
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end().catch(() => undefined);
  }

  private async trim(client: PoolClient): Promise<void> {
    this.lastTrim = Date.now();
    try {
      const n = await trimAckedEvents(client, this.streamId!);
      if (n > 0) this.log.info('trimmed acknowledged events', { events: n });
    } catch (e) {
      this.log.warn('trimming acknowledged events failed; will retry', { error: describeError(e) });
    }
  }

  private requirePool(): Pool {
    return requireOpen(this.pool, this.kind, this.name);
  }
}

/** SQLSTATEs worth retrying with backoff: out of disk/memory/connections. */
const BACKOFF_SQLSTATES = new Set(['53100', '53200', '53300', '53400']);

function writeError(e: unknown, stream: string, what: string): DuctError {
  if (isDuctError(e)) return e;
  const reason = describeError(e);
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && BACKOFF_SQLSTATES.has(code)) {
    return new DuctError('destination_failed', `pgstream "${stream}": cannot ${what}: ${reason}`, {
      retry: 'backoff',
      cause: e,
      hint: 'the stream database is out of resources',
    });
  }
  if (isConnectionLoss(e)) return new DuctError('unavailable', `pgstream "${stream}": cannot ${what}: ${reason}`, { retry: 'transient', cause: e });
  return new DuctError('destination_failed', `pgstream "${stream}": cannot ${what}: ${reason}`, { retry: 'never', cause: e });
}
