/**
 * A stream's `events.seq` is bigint (a backfill's snapshot rows have seqs from their ctid, beyond
 * 32 bits): a stream table made by an older version with an int column is altered when the
 * destination opens, and events keep their seqs exactly.
 */
import { Pool } from 'pg';
import { appendEvents, registerStream } from '../../src/pgstream/eventLog';
import { ensureStreamSchema } from '../../src/pgstream/schema';
import { createTestDatabase, type TestDatabase } from '../support/pg';

let db: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase('pgs_seq');
  pool = new Pool({ connectionString: db.dsn, max: 2 });
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

it('an int events.seq of an older stream is altered to bigint, and a snapshot seq below -2^31 round-trips', async () => {
  const client = await pool.connect();
  try {
    await ensureStreamSchema(client);
    await client.query('ALTER TABLE ductstream_stream.events ALTER COLUMN seq TYPE int');
    await ensureStreamSchema(client);
    const [col] = (
      await client.query(
        `SELECT data_type FROM information_schema.columns WHERE table_schema = 'ductstream_stream' AND table_name = 'events' AND column_name = 'seq'`,
      )
    ).rows;
    expect(col).toEqual({ data_type: 'bigint' });
    const streamId = await registerStream(client, 'seqs', 'json', 'f');
    const seq = -(1 + 3 + (123_456_789 * 2048 + 17) * 4);
    const event = {
      commitLsn: 0x16b6c50n,
      seq,
      lsn: 0x16b6c50n,
      commitTimeMicros: 1_704_067_200_000_000n,
      xid: 0,
      tableSchema: 'public',
      tableName: 'items',
      op: 'read',
      keyJson: '{"id":"1"}',
      format: 'json',
      payload: Buffer.from('{}'),
    };
    await appendEvents(client, streamId, [event, event]);
    const rows = (await client.query(`SELECT seq::text AS seq FROM ductstream_stream.events WHERE stream_id = $1`, [streamId])).rows;
    expect(rows).toEqual([{ seq: String(seq) }]);
  } finally {
    client.release();
  }
});
