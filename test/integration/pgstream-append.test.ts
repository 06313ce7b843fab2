/**
 * appendEvents against a real PostgreSQL: new events go in as a plain INSERT after one probe of
 * their (commit LSN, seq) span, anything else through ON CONFLICT; whatever the path, each event
 * is stored once and ids follow the order events were first written. Covers concurrent writers of
 * one stream (a plain INSERT that races one hits the unique index and is redone), duplicates inside
 * a batch, replays spanning several statements, backfill-like negative seqs and avro schemas.
 */
import { Pool } from 'pg';
import type { Lsn } from '../../src/core/lsn';
import { appendEvents, registerStream, type EventRow } from '../../src/pgstream/eventLog';
import { ensureStreamSchema } from '../../src/pgstream/schema';
import { createTestDatabase, type TestDatabase } from '../support/pg';

let db: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase('pgstream_append');
  pool = new Pool({ connectionString: db.dsn, max: 4 });
  const c = await pool.connect();
  await ensureStreamSchema(c);
  c.release();
});

afterAll(async () => {
  await pool.end();
  await db.drop();
});

/** Event `i` of a test stream: 4 per commit, commit LSNs from `base`. */
function event(i: number, base: Lsn = 0x1_0000_0000n, avroSchema: string | null = null): EventRow {
  const commitLsn = base + BigInt(Math.floor(i / 4) * 100);
  return {
    commitLsn,
    seq: i % 4,
    lsn: commitLsn + BigInt(i % 4),
    commitTimeMicros: 1_764_000_000_000_000n + BigInt(i),
    xid: 700 + Math.floor(i / 4),
    tableSchema: 'public',
    tableName: 'items',
    op: 'insert',
    keyJson: `{"id":"${i}","note":"q\\"uote é"}`,
    format: 'json',
    payload: Buffer.from(`{"id":${i}}`),
    avroSchema,
  };
}

const range = (from: number, to: number, base?: Lsn) => Array.from({ length: to - from }, (_, k) => event(from + k, base));

async function append(streamId: number, events: EventRow[]): Promise<number> {
  const c = await pool.connect();
  try {
    return await appendEvents(c, streamId, events);
  } finally {
    c.release();
  }
}

async function stored(
  streamId: number,
): Promise<Array<{ id: string; commit_lsn: string; seq: string; key: unknown; payload: Buffer; avro_schema: string | null }>> {
  return db.query(
    `SELECT id::text, commit_lsn::text, seq::text, key, payload, avro_schema FROM ductstream_stream.events e WHERE stream_id = $1 ORDER BY e.id`,
    [streamId],
  );
}

/** (commit LSN, seq) of stored rows in id order, as sortable bigints. */
function positions(rows: Array<{ commit_lsn: string; seq: string }>): Array<[bigint, bigint]> {
  return rows.map((r) => {
    const [hi, lo] = r.commit_lsn.split('/');
    return [(BigInt('0x' + hi) << 32n) | BigInt('0x' + lo), BigInt(r.seq)];
  });
}

function inOrder(ps: Array<[bigint, bigint]>): boolean {
  return ps.every((p, i) => i === 0 || p[0] > ps[i - 1]![0] || (p[0] === ps[i - 1]![0] && p[1] > ps[i - 1]![1]));
}

test('new, replayed and partly replayed batches: each event once, ids in write order, values intact', async () => {
  const c = await pool.connect();
  const id = await registerStream(c, 'plain', 'json', 'f');
  c.release();
  expect(await append(id, range(0, 100))).toBe(100);
  expect(await append(id, range(0, 100))).toBe(0);
  expect(await append(id, range(50, 150))).toBe(50);
  expect(await append(id, range(10, 20))).toBe(0);
  const rows = await stored(id);
  expect(rows).toHaveLength(150);
  expect(inOrder(positions(rows))).toBe(true);
  expect(rows[3]!.key).toEqual({ id: '3', note: 'q"uote é' });
  expect(rows[149]!.payload.toString()).toBe('{"id":149}');
  const [first] = await db.query<{ lsn: string; t: string; xid: string }>(
    `SELECT lsn::text, to_char(commit_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS t, xid::text FROM ductstream_stream.events WHERE stream_id = $1 AND seq = 1 ORDER BY id LIMIT 1`,
    [id],
  );
  expect(first).toEqual({ lsn: '1/1', t: '2025-11-24T16:00:00.000001', xid: '700' });
});

test('duplicates inside one batch and a replay across several statements store each event once', async () => {
  const c = await pool.connect();
  const id = await registerStream(c, 'chunks', 'json', 'f');
  c.release();
  const withDup = [...range(0, 10), event(5), ...range(10, 20)];
  expect(await append(id, withDup)).toBe(20);
  // 25,000 events take three statements in one transaction; then again with 5,000 new ones and an inner duplicate.
  expect(await append(id, range(20, 25_020))).toBe(25_000);
  expect(await append(id, [...range(20, 30_020), event(30_000)])).toBe(5_000);
  const rows = await stored(id);
  expect(rows).toHaveLength(30_020);
  expect(inOrder(positions(rows))).toBe(true);
});

test('backfill-like negative seqs next to stream events, replayed: stored once', async () => {
  const c = await pool.connect();
  const id = await registerStream(c, 'snapshot', 'json', 'f');
  c.release();
  const hold = 0x2_0000_0000n;
  const snapshot = (from: number, to: number) => range(from, to, hold).map((e, k) => ({ ...e, commitLsn: hold, seq: -(4 * (from + k) + 1), op: 'read' }));
  expect(await append(id, [...snapshot(0, 50), ...range(0, 20)])).toBe(70);
  expect(await append(id, [...snapshot(40, 60), ...range(10, 30)])).toBe(20);
  expect(await append(id, snapshot(0, 60))).toBe(0);
  expect(await stored(id)).toHaveLength(90);
});

test('concurrent writers of one stream writing the same batches: each event once, in order', async () => {
  const c = await pool.connect();
  const id = await registerStream(c, 'racing', 'json', 'f');
  c.release();
  const batches = Array.from({ length: 30 }, (_, b) => range(b * 50, b * 50 + 60)); // each overlaps the next by 10
  const writer = async () => {
    let n = 0;
    for (const b of batches) n += await append(id, b);
    return n;
  };
  const counts = await Promise.all([writer(), writer(), writer()]);
  expect(counts.reduce((a, b) => a + b, 0)).toBe(30 * 50 + 10);
  const rows = await stored(id);
  expect(rows).toHaveLength(30 * 50 + 10);
  expect(inOrder(positions(rows))).toBe(true);
});

test('avro writer schemas travel once per distinct text and land on their own events', async () => {
  const c = await pool.connect();
  const id = await registerStream(c, 'avro', 'avro', 'f');
  c.release();
  const a = '{"type":"record","name":"a","fields":[]}';
  const b = '{"type":"record","name":"b","fields":[{"name":"x","type":"string","doc":"é \\" q"}]}';
  const events = range(0, 6).map((e, k) => ({ ...e, format: 'avro', avroSchema: [a, b, null][k % 3] }));
  expect(await append(id, events)).toBe(6);
  expect((await stored(id)).map((r) => r.avro_schema)).toEqual([a, b, null, a, b, null]);
});
