import type { PoolClient } from 'pg';
import { STREAM_SCHEMA, streamWriterLockKey } from './schema';

/** One change as a stream event row (what the pgstream destination appends). */
export interface EventRow {
  /** `X/Y` */
  commitLsn: string;
  seq: number;
  /** `X/Y` */
  lsn: string;
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

/** Bounds of one INSERT statement (its arrays and its payload buffer are single parameters). */
const ROWS_PER_STATEMENT = 10_000;
const PAYLOAD_BYTES_PER_STATEMENT = 32 * 1024 * 1024;

/** Consecutive slices of `events` within the statement bounds (a single huge event is a slice of its own). */
export function* statementChunks(events: readonly EventRow[]): Generator<readonly EventRow[]> {
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < events.length; i++) {
    const size = events[i]!.payload.length;
    if (i > start && (i - start >= ROWS_PER_STATEMENT || bytes + size > PAYLOAD_BYTES_PER_STATEMENT)) {
      yield events.slice(start, i);
      start = i;
      bytes = 0;
    }
    bytes += size;
  }
  if (start < events.length) yield events.slice(start);
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

/**
 * Appends events to a stream in one transaction; returns how many were new.
 *
 * Contract: durable when it resolves (one COMMIT). Idempotent: an event whose `(commit LSN, seq)`
 * is already stored is skipped, so a batch written twice (a replay after a crash) stores each
 * change once. Holds the stream's writer lock for the transaction, so event ids of one stream are
 * allocated and committed in order, which is what lets consumer groups track a cursor.
 * Events that fit one statement (the usual case: up to 10,000 rows and 32 MB) are appended by that
 * one statement, lock included (one round trip, its own transaction); more take BEGIN, the lock,
 * one INSERT per slice and COMMIT.
 * On failure the transaction is rolled back and the error propagates (callers classify it).
 */
export async function appendEvents(client: PoolClient, streamId: number, events: readonly EventRow[]): Promise<number> {
  if (events.length === 0) return 0;
  const chunks = [...statementChunks(events)];
  if (chunks.length === 1) {
    const res = await client.query(insertSql(true), [...insertParams(streamId, chunks[0]!), ...streamWriterLockKey(streamId)]);
    return res.rowCount ?? 0;
  }
  let inserted = 0;
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', streamWriterLockKey(streamId));
    for (const chunk of chunks) inserted += (await client.query(insertSql(false), insertParams(streamId, chunk))).rowCount ?? 0;
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
  return inserted;
}

/**
 * The INSERT of one slice of events. With `lock`, it first takes the stream's writer lock (params
 * $16, $17) in the same statement: the sort by ordinality above the join consumes the lock's row
 * before any row is inserted, so every event id is allocated under the lock.
 */
function insertSql(lock: boolean): string {
  return `${lock ? 'WITH writer AS MATERIALIZED (SELECT pg_advisory_xact_lock($16, $17)) ' : ''}INSERT INTO ${STREAM_SCHEMA}.events
       (stream_id, commit_lsn, seq, lsn, commit_time, xid, table_schema, table_name, op, key, format, payload, avro_schema)
     SELECT $1, u.commit_lsn, u.seq, u.lsn, timestamptz 'epoch' + u.us * interval '1 microsecond', u.xid,
            u.table_schema, u.table_name, u.op, u.key, u.format, substring($12::bytea FROM u.off FOR u.len), u.avro_schema
     FROM ${lock ? 'writer, ' : ''}unnest($2::pg_lsn[], $3::int8[], $4::pg_lsn[], $5::bigint[], $6::bigint[], $7::text[], $8::text[], $9::text[],
                 $10::jsonb[], $11::text[], $13::int[], $14::int[], $15::text[])
          WITH ORDINALITY AS u(commit_lsn, seq, lsn, us, xid, table_schema, table_name, op, key, format, off, len, avro_schema, n)
     ORDER BY u.n
     ON CONFLICT (stream_id, commit_lsn, seq) DO NOTHING`;
}

/** Parameters $1..$15 of {@link insertSql}: payloads travel as one binary parameter sliced by offset (far cheaper than a bytea[] in hex text). */
function insertParams(streamId: number, chunk: readonly EventRow[]): unknown[] {
  const n = chunk.length;
  const commitLsns = new Array<string>(n);
  const seqs = new Array<number>(n);
  const lsns = new Array<string>(n);
  const micros = new Array<string>(n);
  const xids = new Array<number>(n);
  const schemas = new Array<string>(n);
  const tables = new Array<string>(n);
  const ops = new Array<string>(n);
  const keys = new Array<string>(n);
  const formats = new Array<string>(n);
  const offsets = new Array<number>(n);
  const lengths = new Array<number>(n);
  const payloads = new Array<Uint8Array>(n);
  const avroSchemas = new Array<string | null>(n);
  let at = 1;
  for (let i = 0; i < n; i++) {
    const e = chunk[i]!;
    commitLsns[i] = e.commitLsn;
    seqs[i] = e.seq;
    lsns[i] = e.lsn;
    micros[i] = e.commitTimeMicros.toString();
    xids[i] = e.xid;
    schemas[i] = e.tableSchema;
    tables[i] = e.tableName;
    ops[i] = e.op;
    keys[i] = e.keyJson;
    formats[i] = e.format;
    offsets[i] = at;
    lengths[i] = e.payload.length;
    payloads[i] = e.payload;
    avroSchemas[i] = e.avroSchema ?? null;
    at += e.payload.length;
  }
  return [streamId, commitLsns, seqs, lsns, micros, xids, schemas, tables, ops, keys, formats, Buffer.concat(payloads), offsets, lengths, avroSchemas];
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
