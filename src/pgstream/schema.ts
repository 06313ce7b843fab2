import type { PoolClient } from 'pg';

/**
 * The tables of a Postgres-backed stream, in the schema `ductstream_stream` of the pgstream
 * destination's DSN (not in DUCTSTREAM_POSTGRES_DSN: a stream lives where its consumers read it).
 *
 * - `streams`: one row per stream name; `id` keys the other tables.
 * - `events`: one row per change, `(stream_id, id)` is the stream order (ids are allocated under the
 *   stream's writer lock, so they increase in commit order), unique on `(stream_id, commit_lsn, seq)`
 *   (`seq` bigint: a backfill's snapshot rows have large negative seqs; an older int column is altered)
 *   so a batch written twice stores each change once.
 * - `groups`: one row per consumer group; `cursor` is the last event id copied into `deliveries`
 *   (the group has "seen" every event up to it).
 * - `deliveries`: one row per (group, event) that the group must process: its lease
 *   (`leased_until`, `consumer_id`), how often it was delivered, and `acked_at`. The partial index on
 *   unacked rows is what `pull` scans.
 */
export const STREAM_SCHEMA = 'ductstream_stream';

/** Serializes schema creation across processes (CREATE ... IF NOT EXISTS races otherwise). */
const SCHEMA_LOCK = 721_534_206;
/** First half of the two-key advisory lock of a stream's writers (the second is the stream id). */
const WRITER_LOCK_CLASS = 721_534_207;

const DDL = [
  `CREATE SCHEMA IF NOT EXISTS ${STREAM_SCHEMA}`,
  `CREATE TABLE IF NOT EXISTS ${STREAM_SCHEMA}.streams (
     id serial PRIMARY KEY,
     name text NOT NULL UNIQUE,
     format text NOT NULL DEFAULT '',
     flow_id text NOT NULL DEFAULT '',
     created_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE TABLE IF NOT EXISTS ${STREAM_SCHEMA}.events (
     stream_id int NOT NULL,
     id bigserial NOT NULL,
     commit_lsn pg_lsn NOT NULL,
     seq bigint NOT NULL,
     lsn pg_lsn NOT NULL,
     commit_time timestamptz NOT NULL,
     xid bigint NOT NULL,
     table_schema text NOT NULL,
     table_name text NOT NULL,
     op text NOT NULL,
     key jsonb NOT NULL,
     format text NOT NULL,
     payload bytea NOT NULL,
     avro_schema text,
     written_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (stream_id, id),
     UNIQUE (stream_id, commit_lsn, seq))`,
  `CREATE TABLE IF NOT EXISTS ${STREAM_SCHEMA}.groups (
     id serial PRIMARY KEY,
     stream_id int NOT NULL,
     name text NOT NULL,
     cursor bigint NOT NULL DEFAULT 0,
     start_mode text NOT NULL DEFAULT 'beginning',
     created_at timestamptz NOT NULL DEFAULT now(),
     UNIQUE (stream_id, name))`,
  `CREATE TABLE IF NOT EXISTS ${STREAM_SCHEMA}.deliveries (
     group_id int NOT NULL,
     event_id bigint NOT NULL,
     delivery_count int NOT NULL DEFAULT 0,
     consumer_id text,
     leased_until timestamptz,
     last_delivered_at timestamptz,
     acked_at timestamptz,
     PRIMARY KEY (group_id, event_id))`,
  `CREATE INDEX IF NOT EXISTS deliveries_unacked ON ${STREAM_SCHEMA}.deliveries (group_id, event_id) WHERE acked_at IS NULL`,
  // Few streams and groups means every one of them is in the column's most-common-values list, so a
  // stream or group created after the last ANALYZE is estimated at 1 row and the planner scans its
  // whole history by the wrong index. Without statistics, equality gets a fixed, moderate estimate.
  `ALTER TABLE ${STREAM_SCHEMA}.events ALTER COLUMN stream_id SET STATISTICS 0`,
  `ALTER TABLE ${STREAM_SCHEMA}.deliveries ALTER COLUMN group_id SET STATISTICS 0`,
];

/**
 * Creates the stream tables when missing. Idempotent and safe from many processes at once (an
 * advisory lock serializes it); cheap when they exist.
 */
export async function ensureStreamSchema(client: PoolClient): Promise<void> {
  const { rows } = await client.query<{ ok: boolean; seq: string | null; avro: boolean }>(
    `SELECT to_regclass('${STREAM_SCHEMA}.deliveries') IS NOT NULL AS ok,
            (SELECT data_type FROM information_schema.columns WHERE table_schema = '${STREAM_SCHEMA}' AND table_name = 'events' AND column_name = 'seq') AS seq,
            EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = '${STREAM_SCHEMA}' AND table_name = 'events' AND column_name = 'avro_schema') AS avro`,
  );
  if (rows[0]?.ok && rows[0].seq !== 'integer' && rows[0].avro) return;
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    for (const sql of DDL) await client.query(sql);
    // Streams made before backfills: snapshot rows' seqs (from their ctid) need 64 bits.
    await client.query(
      `DO $$ BEGIN
         IF (SELECT data_type FROM information_schema.columns WHERE table_schema = '${STREAM_SCHEMA}' AND table_name = 'events' AND column_name = 'seq') = 'integer'
         THEN ALTER TABLE ${STREAM_SCHEMA}.events ALTER COLUMN seq TYPE bigint; END IF;
       END $$`,
    );
    // Streams made before avro events carried their writer schema.
    await client.query(`ALTER TABLE ${STREAM_SCHEMA}.events ADD COLUMN IF NOT EXISTS avro_schema text`);
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/** The advisory lock key a stream's writers hold while appending, so event ids follow commit order. */
export function streamWriterLockKey(streamId: number): [number, number] {
  return [WRITER_LOCK_CLASS, streamId];
}
