import { createTestDatabase, type TestDatabase } from '../support/pg';
import { confirmedFlush, nextBatch, nextNonEmpty, openSource, prepared, uniqueName, waitFor } from './source-postgres-helpers';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('source_postgres_acks');
});

afterAll(async () => {
  await db.drop();
});

async function replyTime(slot: string): Promise<number | undefined> {
  const rows = await db.query<{ t: string | null }>(
    `SELECT (extract(epoch from r.reply_time) * 1000)::float8::text AS t
       FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = $1`,
    [slot],
  );
  return rows[0]?.t ? Number(rows[0].t) : undefined;
}

describe('PostgresSource acknowledgements', () => {
  test('ack(x) moves confirmed_flush_lsn to exactly x', async () => {
    const t = uniqueName('t');
    await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY)`);
    const slot = uniqueName('s');
    const { config, result } = await prepared(db, { slot, publication: uniqueName('p'), publication_tables: t, batch_timeout: '200ms' });
    expect(result.confirmedFlushLsn).not.toBeNull();
    const { source, it } = openSource(config);
    try {
      await db.query(`INSERT INTO ${t} VALUES (1)`);
      const b = await nextNonEmpty(it);
      expect(b.checkpointLsn).toBeGreaterThan(result.confirmedFlushLsn!);
      await source.ack(b.checkpointLsn);
      await waitFor(async () => ((await confirmedFlush(db, slot)) === b.checkpointLsn ? true : undefined), 10_000, 'confirmed_flush = ack');
      expect(source.stats().ackedLsn).toBe(b.checkpointLsn);
      // An older ack never moves it back.
      await source.ack(result.confirmedFlushLsn!);
      await new Promise((r) => setTimeout(r, 300));
      expect(await confirmedFlush(db, slot)).toBe(b.checkpointLsn);
    } finally {
      await source.close();
    }
  });

  test('confirmed_flush never passes the acknowledged position while changes arrive and the server asks for replies', async () => {
    const t = uniqueName('t');
    await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY)`);
    const ctx = await db.query<{ context: string }>(`SELECT context FROM pg_settings WHERE name = 'wal_sender_timeout'`);
    expect(ctx[0]!.context).toBe('user');
    // A 1 s wal_sender_timeout makes the server ask for a reply every ~0.5 s and drop a silent
    // client after 1 s; status_interval is long, so only the source's answers keep it alive.
    await db.query(`ALTER DATABASE "${db.name}" SET wal_sender_timeout = '1s'`);
    const slot = uniqueName('s');
    const { config } = await prepared(db, { slot, publication: uniqueName('p'), publication_tables: t, batch_timeout: '100ms', status_interval: '1h' });
    const { source, it } = openSource(config);
    try {
      await db.query(`INSERT INTO ${t} VALUES (0)`);
      const first = await nextNonEmpty(it);
      const acked = first.checkpointLsn;
      await source.ack(acked);
      await waitFor(async () => ((await confirmedFlush(db, slot)) === acked ? true : undefined), 10_000, 'confirmed_flush = ack');
      const replyTimes = new Set<number>();
      let received = 0;
      const until = Date.now() + 4000;
      for (let i = 1; Date.now() < until; i++) {
        await db.query(`INSERT INTO ${t} VALUES (${i})`);
        const b = await nextBatch(it);
        received += b.changes.length;
        const cf = await confirmedFlush(db, slot);
        expect(cf).not.toBeNull();
        expect(cf! <= acked).toBe(true);
        const rt = await replyTime(slot);
        if (rt !== undefined) replyTimes.add(rt);
      }
      expect(received).toBeGreaterThan(5);
      expect(source.stats().receivedLsn).toBeGreaterThan(acked);
      expect(source.stats().serverWalEnd).toBeGreaterThan(acked);
      expect(await confirmedFlush(db, slot)).toBe(acked);
      // The connection survived 4 s with a 1 s timeout, answering the server's requests.
      expect(replyTimes.size).toBeGreaterThanOrEqual(3);
    } finally {
      await source.close();
      await db.query(`ALTER DATABASE "${db.name}" RESET wal_sender_timeout`);
    }
  });

  test('idle: status updates repeat every status_interval and keepalives let the checkpoint pass skipped WAL', async () => {
    const t = uniqueName('t');
    const other = uniqueName('other');
    await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY); CREATE TABLE ${other} (id int)`);
    const slot = uniqueName('s');
    const { config } = await prepared(db, { slot, publication: uniqueName('p'), publication_tables: t, batch_timeout: '200ms', status_interval: '300ms' });
    const { source, it } = openSource(config);
    try {
      await db.query(`INSERT INTO ${t} VALUES (1)`);
      const b = await nextNonEmpty(it);
      const lastData = b.changes[0]!.commitEndLsn;
      await source.ack(b.checkpointLsn);
      // Status updates keep coming without any ack or server request.
      const times = new Set<number>();
      const until = Date.now() + 1500;
      while (Date.now() < until) {
        const rt = await replyTime(slot);
        if (rt !== undefined) times.add(rt);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(times.size).toBeGreaterThanOrEqual(3);
      // WAL for unpublished tables: no change is delivered, but empty batches carry a checkpoint past it.
      await db.query(`INSERT INTO ${other} SELECT generate_series(1, 100)`);
      const walAfter = BigInt((await db.query<{ lsn: string }>(`SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::text AS lsn`))[0]!.lsn);
      const advanced = await waitFor(
        async () => {
          const e = await nextBatch(it);
          expect(e.changes).toHaveLength(0);
          return e.checkpointLsn >= walAfter ? e.checkpointLsn : undefined;
        },
        15_000,
        'a keepalive checkpoint past the unpublished writes',
      );
      expect(advanced).toBeGreaterThan(lastData);
      await source.ack(advanced);
      await waitFor(async () => ((await confirmedFlush(db, slot)) === advanced ? true : undefined), 10_000, 'the idle slot to advance');
    } finally {
      await source.close();
    }
  });
});
