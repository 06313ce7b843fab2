import type { PoolClient } from 'pg';
import type { Lsn } from '../core/lsn';
import { STREAM_SCHEMA } from './schema';

export { appendEvents, statementChunks } from './append';

/** One change as a stream event row (what the pgstream destination appends). */
export interface EventRow {
  commitLsn: Lsn;
  seq: number;
  lsn: Lsn;
  commitTimeMicros: bigint;
  xid: number;
  tableSchema: string;
  tableName: string;
  op: string;
  /** JSON object text of the key values. */
  keyJson: string;
  format: string;
  payload: Uint8Array;
  /** The Avro writer schema (JSON) of an avro payload, so a consumer decodes it on its own; null for other formats. */
  avroSchema?: string | null;
}

/**
 * Registers `name` (or finds it) and returns its id; records the writer's format and flow.
 * Idempotent.
 */
export async function registerStream(client: PoolClient, name: string, format: string, flowId: string): Promise<number> {
  const { rows } = await client.query<{ id: number }>(
    `INSERT INTO ${STREAM_SCHEMA}.streams (name, format, flow_id) VALUES ($1, $2, $3)
     ON CONFLICT (name) DO UPDATE SET format = EXCLUDED.format, flow_id = EXCLUDED.flow_id RETURNING id`,
    [name, format, flowId],
  );
  return rows[0]!.id;
}

/** Events deleted per trim statement, so one trim never holds locks for long. */
const TRIM_LIMIT = 10_000;

/**
 * Deletes events every consumer group of the stream has acknowledged (and their delivery rows).
 * A stream without groups keeps everything: nobody has consumed it yet. Trimmed events can no
 * longer be replayed. Returns the number of events deleted.
 */
export async function trimAckedEvents(client: PoolClient, streamId: number): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await trimOnce(client, streamId);
    total += n;
    if (n < TRIM_LIMIT) return total;
  }
}

/**
 * One bounded trim, in a transaction holding the stream's group rows, so a concurrent replay
 * (which locks its group row) cannot re-open delivery rows of events being deleted.
 */
async function trimOnce(client: PoolClient, streamId: number): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query(`SELECT id FROM ${STREAM_SCHEMA}.groups WHERE stream_id = $1 ORDER BY id FOR UPDATE`, [streamId]);
    const { rows } = await client.query<{ n: string }>(
      `WITH bound AS (SELECT min(cursor) AS upto FROM ${STREAM_SCHEMA}.groups WHERE stream_id = $1),
       doomed AS (
         SELECT e.id FROM ${STREAM_SCHEMA}.events e, bound
         WHERE e.stream_id = $1 AND e.id <= bound.upto
           AND NOT EXISTS (SELECT 1 FROM ${STREAM_SCHEMA}.deliveries d JOIN ${STREAM_SCHEMA}.groups g ON g.id = d.group_id
                           WHERE g.stream_id = $1 AND d.event_id = e.id AND d.acked_at IS NULL)
         ORDER BY e.id LIMIT $2),
       gone AS (DELETE FROM ${STREAM_SCHEMA}.events e USING doomed WHERE e.stream_id = $1 AND e.id = doomed.id RETURNING e.id),
       rows_gone AS (DELETE FROM ${STREAM_SCHEMA}.deliveries d USING gone, ${STREAM_SCHEMA}.groups g
                     WHERE g.stream_id = $1 AND d.group_id = g.id AND d.event_id = gone.id)
       SELECT count(*) AS n FROM gone`,
      [streamId, TRIM_LIMIT],
    );
    await client.query('COMMIT');
    return Number(rows[0]?.n ?? 0);
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/** The id of stream `name`, registering it without a format when no writer has yet (a flow declares it). */
export async function declareStream(client: PoolClient, name: string): Promise<number> {
  const { rows } = await client.query<{ id: number }>(
    `WITH ins AS (INSERT INTO ${STREAM_SCHEMA}.streams (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id)
     SELECT id FROM ins UNION ALL SELECT id FROM ${STREAM_SCHEMA}.streams WHERE name = $1`,
    [name],
  );
  return rows[0]!.id;
}
