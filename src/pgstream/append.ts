import type { PoolClient } from 'pg';
import { formatLsn } from '../core/lsn';
import { int4Array, int8Array, OID, timestamptzArray, varlenaArray } from './binaryArrays';
import type { EventRow } from './eventLog';
import { STREAM_SCHEMA, streamWriterLockKey } from './schema';

/** Bounds of one INSERT statement (each column travels as one array parameter). */
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
 * How a slice is inserted. `fresh`: a plain INSERT that first checks, with one index probe, that
 * the stream stores no event within the slice's (commit LSN, seq) span, and inserts nothing when
 * one is; `dedup`: `ON CONFLICT DO NOTHING`, which checks every event (a speculative insertion per
 * row: about twice the server's cost of a plain insert).
 */
type Mode = 'fresh' | 'dedup';

const UNIQUE_VIOLATION = '23505';

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
 *
 * The usual append is new events only, so it is tried as a plain INSERT guarded by a probe of the
 * slice's span; when the probe finds stored events (a replay) the slice is inserted again with
 * `ON CONFLICT DO NOTHING`. The unique index on `(stream_id, commit_lsn, seq)` still guards every
 * insert: when a plain INSERT hits it anyway (duplicates inside the batch, or a concurrent writer
 * that committed after the statement's snapshot and before it got the lock), the whole append is
 * redone with `ON CONFLICT DO NOTHING`. No path stores an event twice.
 * On failure the transaction is rolled back and the error propagates (callers classify it).
 */
export async function appendEvents(client: PoolClient, streamId: number, events: readonly EventRow[]): Promise<number> {
  if (events.length === 0) return 0;
  const chunks = [...statementChunks(events)];
  try {
    return await appendChunks(client, streamId, chunks, 'fresh');
  } catch (e) {
    if (!isUniqueViolation(e)) throw e;
    return appendChunks(client, streamId, chunks, 'dedup');
  }
}

async function appendChunks(client: PoolClient, streamId: number, chunks: ReadonlyArray<readonly EventRow[]>, mode: Mode): Promise<number> {
  if (chunks.length === 1) return insertChunk(client, streamId, chunks[0]!, mode, true);
  let inserted = 0;
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', streamWriterLockKey(streamId));
    for (const chunk of chunks) inserted += await insertChunk(client, streamId, chunk, mode, false);
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
  return inserted;
}

/** Inserts one slice; in `fresh` mode, a slice whose span holds stored events is inserted again in `dedup` mode. */
async function insertChunk(client: PoolClient, streamId: number, chunk: readonly EventRow[], mode: Mode, lock: boolean): Promise<number> {
  const params = columnParams(streamId, chunk);
  if (mode === 'fresh') {
    const span = spanOf(chunk);
    const res = await client.query(insertSql('fresh', lock), [...params, span.lowLsn, span.lowSeq, span.highLsn, span.highSeq, ...lockParams(streamId, lock)]);
    if ((res.rowCount ?? 0) > 0) return res.rowCount!;
  }
  const res = await client.query(insertSql('dedup', lock), [...params, ...lockParams(streamId, lock)]);
  return res.rowCount ?? 0;
}

function lockParams(streamId: number, lock: boolean): number[] {
  return lock ? streamWriterLockKey(streamId) : [];
}

function isUniqueViolation(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === UNIQUE_VIOLATION;
}

/** The least and greatest `(commit LSN, seq)` of a slice (events need not be sorted by it: backfill seqs are negative). */
function spanOf(chunk: readonly EventRow[]): { lowLsn: string; lowSeq: number; highLsn: string; highSeq: number } {
  let low = chunk[0]!;
  let high = low;
  for (const e of chunk) {
    if (e.commitLsn < low.commitLsn || (e.commitLsn === low.commitLsn && e.seq < low.seq)) low = e;
    if (e.commitLsn > high.commitLsn || (e.commitLsn === high.commitLsn && e.seq > high.seq)) high = e;
  }
  return { lowLsn: formatLsn(low.commitLsn), lowSeq: low.seq, highLsn: formatLsn(high.commitLsn), highSeq: high.seq };
}

const COLUMNS = '(stream_id, commit_lsn, seq, lsn, commit_time, xid, table_schema, table_name, op, key, format, payload, avro_schema)';

/**
 * The INSERT of one slice: parameters $1 (stream id) and $2..$14 (one binary array per column,
 * see {@link columnParams}); in `fresh` mode $15..$18 are the slice's span. With `lock`, it first
 * takes the stream's writer lock (the last two parameters) in the same statement: the sort by
 * ordinality above the join consumes the lock's row before any row is inserted, so every event id
 * is allocated under the lock.
 */
function insertSql(mode: Mode, lock: boolean): string {
  const lockAt = mode === 'fresh' ? 19 : 15;
  const probe =
    mode === 'fresh'
      ? `WHERE NOT EXISTS (SELECT 1 FROM ${STREAM_SCHEMA}.events e WHERE e.stream_id = $1
           AND (e.commit_lsn, e.seq) >= ($15::pg_lsn, $16::int8) AND (e.commit_lsn, e.seq) <= ($17::pg_lsn, $18::int8))`
      : '';
  return `${lock ? `WITH writer AS MATERIALIZED (SELECT pg_advisory_xact_lock($${lockAt}, $${lockAt + 1})) ` : ''}INSERT INTO ${STREAM_SCHEMA}.events ${COLUMNS}
     SELECT $1, u.commit_lsn, u.seq, u.lsn, u.commit_time, u.xid, u.table_schema, u.table_name, u.op, u.key, u.format, u.payload,
            CASE WHEN u.schema_at > 0 THEN ($14::text[])[u.schema_at] END
     FROM ${lock ? 'writer, ' : ''}unnest($2::pg_lsn[], $3::int8[], $4::pg_lsn[], $5::timestamptz[], $6::int8[], $7::text[], $8::text[], $9::text[],
                 $10::jsonb[], $11::text[], $12::bytea[], $13::int4[])
          WITH ORDINALITY AS u(commit_lsn, seq, lsn, commit_time, xid, table_schema, table_name, op, key, format, payload, schema_at, n)
     ${probe}
     ORDER BY u.n
     ${mode === 'dedup' ? 'ON CONFLICT (stream_id, commit_lsn, seq) DO NOTHING' : ''}`;
}

/**
 * Parameters $1..$14 of {@link insertSql}: the stream id, then one binary array per column (no
 * text escaping or parsing); an avro writer schema travels once per distinct text ($14), each
 * event naming it by its 1-based position ($13, 0 for none).
 */
function columnParams(streamId: number, chunk: readonly EventRow[]): unknown[] {
  const n = chunk.length;
  const commitLsns = new Array<bigint>(n);
  const seqs = new Array<number>(n);
  const lsns = new Array<bigint>(n);
  const micros = new Array<bigint>(n);
  const xids = new Array<number>(n);
  const schemas = new Array<string>(n);
  const tables = new Array<string>(n);
  const ops = new Array<string>(n);
  const keys = new Array<string>(n);
  const formats = new Array<string>(n);
  const payloads = new Array<Uint8Array>(n);
  const schemaAt = new Array<number>(n);
  const avroSchemas = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const e = chunk[i]!;
    commitLsns[i] = e.commitLsn;
    seqs[i] = e.seq;
    lsns[i] = e.lsn;
    micros[i] = e.commitTimeMicros;
    xids[i] = e.xid;
    schemas[i] = e.tableSchema;
    tables[i] = e.tableName;
    ops[i] = e.op;
    keys[i] = e.keyJson;
    formats[i] = e.format;
    payloads[i] = e.payload;
    const avro = e.avroSchema;
    if (avro === undefined || avro === null) schemaAt[i] = 0;
    else {
      let at = avroSchemas.get(avro);
      if (at === undefined) avroSchemas.set(avro, (at = avroSchemas.size + 1));
      schemaAt[i] = at;
    }
  }
  return [
    streamId,
    int8Array(commitLsns, OID.pg_lsn),
    int8Array(seqs),
    int8Array(lsns, OID.pg_lsn),
    timestamptzArray(micros),
    int8Array(xids),
    varlenaArray(schemas, OID.text),
    varlenaArray(tables, OID.text),
    varlenaArray(ops, OID.text),
    varlenaArray(keys, OID.jsonb),
    varlenaArray(formats, OID.text),
    varlenaArray(payloads, OID.bytea),
    int4Array(schemaAt),
    avroSchemas.size > 0 ? varlenaArray([...avroSchemas.keys()], OID.text) : emptyTextArray(),
  ];
}

/** An empty `text[]` in binary (no dimensions). */
function emptyTextArray(): Buffer {
  const buf = Buffer.alloc(12);
  buf.writeInt32BE(0, 0);
  buf.writeInt32BE(0, 4);
  buf.writeInt32BE(OID.text, 8);
  return buf;
}
