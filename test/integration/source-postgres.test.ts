import type { Batch, Change } from '../../src/core/change';
import { DuctError } from '../../src/core/errors';
import { silentLogger } from '../../src/core/log';
import { measureRawDrain } from '../../tools/rawDrain';
import { PostgresSource } from '../../src/source/postgres/source';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { confirmedFlush, nextBatch, nextNonEmpty, openSource, prepared, pullChanges, uniqueName, waitFor } from './source-postgres-helpers';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('source_postgres');
});

afterAll(async () => {
  await db.drop();
});

async function newTable(ddl: string): Promise<string> {
  const name = uniqueName('t');
  await db.query(ddl.replaceAll('$T', name));
  return name;
}

describe('PostgresSource streaming', () => {
  test('insert, update, delete and truncate arrive in commit order with transaction metadata', async () => {
    const t = await newTable(`CREATE TABLE $T (id int PRIMARY KEY, name text NOT NULL, qty int8)`);
    const { config } = await prepared(db, { slot: uniqueName('s'), publication: uniqueName('p'), publication_tables: t, batch_timeout: '200ms' });
    const { source, it } = openSource(config);
    try {
      await db.query(`BEGIN; INSERT INTO ${t} VALUES (1, 'a', 10), (2, 'b', 9223372036854775807); COMMIT;`);
      await db.query(`UPDATE ${t} SET name = 'a2' WHERE id = 1`);
      await db.query(`DELETE FROM ${t} WHERE id = 2`);
      await db.query(`TRUNCATE ${t}`);
      const { changes, batches } = await pullChanges(it, 5);
      expect(changes.map((c) => c.op)).toEqual(['insert', 'insert', 'update', 'delete', 'truncate']);
      expect(changes[0]!.after).toEqual({ id: 1, name: 'a', qty: 10n });
      expect(changes[1]!.after).toEqual({ id: 2, name: 'b', qty: 9223372036854775807n });
      expect(changes.map((c) => c.seq)).toEqual([0, 1, 0, 0, 0]);
      expect(changes[0]!.commitLsn).toBe(changes[1]!.commitLsn);
      expect(changes[0]!.xid).toBe(changes[1]!.xid);
      expect(changes[2]!.xid).not.toBe(changes[1]!.xid);
      for (let i = 1; i < changes.length; i++) expect(changes[i]!.commitLsn >= changes[i - 1]!.commitLsn).toBe(true);
      for (const c of changes) {
        expect(c.commitEndLsn).toBeGreaterThan(c.commitLsn);
        expect(c.lsn).toBeLessThanOrEqual(c.commitLsn);
      }
      expect(changes[2]).toMatchObject({ key: { id: 1 }, after: { id: 1, name: 'a2', qty: 10n }, before: null, unchangedToast: [] });
      expect(changes[3]).toMatchObject({ key: { id: 2 }, after: null, before: { id: 2 } });
      expect(changes[4]).toMatchObject({ table: { schema: 'public', name: t }, truncateOptions: { cascade: false, restartIdentity: false } });
      const schema = batches[batches.length - 1]!.schemas.get(`public.${t}`)!;
      expect(schema).toMatchObject({ schema: 'public', name: t, primaryKey: ['id'], replicaIdentity: 'default' });
      expect(schema.columns.map((c) => [c.name, c.pgType, c.formattedType, c.nullable, c.valueKind])).toEqual([
        ['id', 'int4', 'integer', false, 'int'],
        ['name', 'text', 'text', false, 'text'],
        ['qty', 'int8', 'bigint', true, 'bigint'],
      ]);
      // Commit time is the server's clock, in microseconds since the Unix epoch.
      const serverNow = BigInt((await db.query<{ us: string }>(`SELECT (extract(epoch from now()) * 1000000)::int8::text AS us`))[0]!.us);
      const age = serverNow - changes[0]!.commitTimeMicros;
      expect(age).toBeGreaterThanOrEqual(0n);
      expect(age).toBeLessThan(30_000_000n);
      const empty = await nextBatch(it);
      expect(empty.changes).toHaveLength(0);
      expect(empty.checkpointLsn).toBeGreaterThanOrEqual(changes[4]!.commitEndLsn);
    } finally {
      await source.close();
      await source.close();
    }
  });

  test('REPLICA IDENTITY FULL: the old row comes as before, the key is still the primary key', async () => {
    const t = await newTable(`CREATE TABLE $T (a int, b int, v text, PRIMARY KEY (b, a)); ALTER TABLE $T REPLICA IDENTITY FULL`);
    await db.query(`INSERT INTO ${t} VALUES (1, 2, 'x')`);
    const { config } = await prepared(db, { slot: uniqueName('s'), publication: uniqueName('p'), publication_tables: t, batch_timeout: '200ms' });
    const { source, it } = openSource(config);
    try {
      await db.query(`UPDATE ${t} SET v = 'y' WHERE a = 1`);
      await db.query(`DELETE FROM ${t} WHERE a = 1`);
      const { changes, batches } = await pullChanges(it, 2);
      expect(changes[0]).toMatchObject({ op: 'update', key: { b: 2, a: 1 }, before: { a: 1, b: 2, v: 'x' }, after: { a: 1, b: 2, v: 'y' } });
      expect(Object.keys(changes[0]!.key)).toEqual(['b', 'a']);
      expect(changes[1]).toMatchObject({ op: 'delete', key: { b: 2, a: 1 }, before: { a: 1, b: 2, v: 'y' }, after: null });
      expect(batches.find((b) => b.changes.length > 0)!.schemas.get(`public.${t}`)).toMatchObject({ primaryKey: ['b', 'a'], replicaIdentity: 'full' });
    } finally {
      await source.close();
    }
  });

  test('tables without a primary key: inserts without key; with REPLICA IDENTITY FULL every column is the key', async () => {
    const plain = await newTable(`CREATE TABLE $T (x int, y text)`);
    const full = await newTable(`CREATE TABLE $T (x int, y text); ALTER TABLE $T REPLICA IDENTITY FULL`);
    const { config } = await prepared(db, {
      slot: uniqueName('s'),
      publication: uniqueName('p'),
      publication_tables: `${plain},${full}`,
      batch_timeout: '200ms',
    });
    const { source, it } = openSource(config);
    try {
      await db.query(`INSERT INTO ${plain} VALUES (1, 'a'); INSERT INTO ${full} VALUES (2, 'b'); UPDATE ${full} SET y = 'c'`);
      const { changes, batches } = await pullChanges(it, 3);
      expect(changes[0]).toMatchObject({ op: 'insert', key: {}, after: { x: 1, y: 'a' } });
      expect(changes[2]).toMatchObject({ op: 'update', key: { x: 2, y: 'c' }, before: { x: 2, y: 'b' } });
      const schemas = new Map(batches.flatMap((b) => [...b.schemas]));
      expect(schemas.get(`public.${plain}`)!.primaryKey).toEqual([]);
      expect(schemas.get(`public.${full}`)!.replicaIdentity).toBe('full');
    } finally {
      await source.close();
    }
  });

  test('an unchanged TOASTed column is absent from the update, never null', async () => {
    const t = await newTable(`CREATE TABLE $T (id int PRIMARY KEY, big text, n int)`);
    await db.query(`INSERT INTO ${t} SELECT 1, string_agg(md5(g::text), '') , 0 FROM generate_series(1, 500) g`);
    const { config } = await prepared(db, { slot: uniqueName('s'), publication: uniqueName('p'), publication_tables: t, batch_timeout: '200ms' });
    const { source, it } = openSource(config);
    try {
      await db.query(`UPDATE ${t} SET n = 1 WHERE id = 1`);
      await db.query(`UPDATE ${t} SET big = 'small now', n = 2 WHERE id = 1`);
      const { changes } = await pullChanges(it, 2);
      expect(changes[0]!.after).toEqual({ id: 1, n: 1 });
      expect('big' in changes[0]!.after!).toBe(false);
      expect(changes[0]!.unchangedToast).toEqual(['big']);
      expect(changes[1]!.after).toEqual({ id: 1, big: 'small now', n: 2 });
      expect(changes[1]!.unchangedToast).toEqual([]);
    } finally {
      await source.close();
    }
  });

  test('a transaction larger than batch_size spans batches; the checkpoint moves only at its commit', async () => {
    const t = await newTable(`CREATE TABLE $T (id int PRIMARY KEY)`);
    const { config } = await prepared(db, {
      slot: uniqueName('s'),
      publication: uniqueName('p'),
      publication_tables: t,
      batch_size: '4',
      batch_timeout: '300ms',
    });
    const { source, it } = openSource(config);
    try {
      await db.query(`INSERT INTO ${t} SELECT generate_series(1, 10)`);
      await db.query(`INSERT INTO ${t} VALUES (11)`);
      const pulled = await pullChanges(it, 11);
      const changes = pulled.changes;
      const batches = pulled.batches.filter((b) => b.changes.length > 0);
      // Full batches inside the first transaction; its tail and row 11 come in one batch, or in two
      // when the stream caught up between the transactions.
      expect(batches.slice(0, 2).map((b) => b.changes.length)).toEqual([4, 4]);
      expect([[3], [2, 1]]).toContainEqual(batches.slice(2).map((b) => b.changes.length));
      expect(changes.map((c) => (c.after as { id: number }).id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      expect(changes.slice(0, 10).map((c) => c.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const start = batches[0]!.checkpointLsn;
      expect(batches[1]!.checkpointLsn).toBe(start); // still inside the first transaction
      const firstEnd = changes[9]!.commitEndLsn;
      expect(firstEnd).toBeGreaterThan(0n);
      expect(changes[0]!.commitEndLsn).toBe(0n); // delivered before its commit arrived
      if (batches.length === 4) expect(batches[2]!.checkpointLsn).toBe(firstEnd);
      expect(batches[batches.length - 1]!.checkpointLsn).toBe(changes[10]!.commitEndLsn);
      expect(batches[batches.length - 1]!.checkpointLsn).toBeGreaterThan(firstEnd);
    } finally {
      await source.close();
    }
  });

  test('restart from a checkpoint re-delivers only the partially delivered transaction', async () => {
    const t = await newTable(`CREATE TABLE $T (id int PRIMARY KEY, tx int)`);
    const slot = uniqueName('s');
    const { config } = await prepared(db, { slot, publication: uniqueName('p'), publication_tables: t, batch_size: '3', batch_timeout: '300ms' });
    await db.query(`INSERT INTO ${t} VALUES (1, 1), (2, 1)`);
    await db.query(`INSERT INTO ${t} VALUES (3, 2), (4, 2), (5, 2), (6, 2)`);
    await db.query(`INSERT INTO ${t} VALUES (7, 3)`);
    const first = openSource(config);
    let checkpoint: bigint;
    const seen: Change[] = [];
    try {
      // Up to the batch that holds row 3: tx1 (2 rows) and the first row(s) of tx2, which is larger
      // than batch_size so it is cut inside (tx1 may come alone first, when the stream caught up after it).
      let b1 = await nextNonEmpty(first.it);
      seen.push(...b1.changes);
      while (!seen.some((c) => (c.after as { id: number }).id === 3)) {
        b1 = await nextNonEmpty(first.it);
        seen.push(...b1.changes);
      }
      expect(seen.map((c) => (c.after as { id: number }).id).slice(0, 3)).toEqual([1, 2, 3]);
      expect(seen.length).toBeLessThan(6);
      checkpoint = b1.checkpointLsn;
      // End of tx1, or a later keepalive position, but never past the commit of tx2 (partly delivered).
      expect(checkpoint).toBeGreaterThanOrEqual(seen[1]!.commitEndLsn);
      expect(checkpoint).toBeLessThanOrEqual(seen[2]!.commitLsn);
      await first.source.ack(checkpoint);
      await waitFor(async () => ((await confirmedFlush(db, slot)) === checkpoint ? true : undefined), 10_000, 'confirmed_flush to reach the ack');
    } finally {
      await first.source.close();
    }
    const second = openSource(config, checkpoint);
    try {
      const { changes } = await pullChanges(second.it, 5);
      expect(changes.map((c) => (c.after as { id: number }).id)).toEqual([3, 4, 5, 6, 7]);
      expect(changes[0]!.seq).toBe(0);
      expect(changes[0]!.commitLsn).toBe(seen[2]!.commitLsn);
      const more = await nextBatch(second.it);
      expect(more.changes).toHaveLength(0);
    } finally {
      await second.source.close();
    }
  });

  test('a partial batch is handed over once the stream caught up; batch_timeout yields empty batches when idle', async () => {
    const t = await newTable(`CREATE TABLE $T (id int PRIMARY KEY)`);
    const { config } = await prepared(db, {
      slot: uniqueName('s'),
      publication: uniqueName('p'),
      publication_tables: t,
      batch_size: '1000',
      batch_timeout: '3s',
    });
    const { source, it } = openSource(config);
    try {
      const idleStart = Date.now();
      const idle = await nextBatch(it);
      expect(idle.changes).toHaveLength(0);
      expect(Date.now() - idleStart).toBeGreaterThanOrEqual(2900);
      // Flushed at commit (the test cluster runs with synchronous_commit off: the WAL writer would wait 200 ms).
      await db.query(`BEGIN; SET LOCAL synchronous_commit = on; INSERT INTO ${t} VALUES (1), (2); COMMIT`);
      const sent = Date.now();
      const partial = await nextNonEmpty(it);
      expect(partial.changes.map((c) => c.after)).toEqual([{ id: 1 }, { id: 2 }]);
      // Not held for batch_timeout: nothing more was arriving.
      expect(Date.now() - sent).toBeLessThan(1500);
    } finally {
      await source.close();
    }
  });

  test('a schema change starts a new batch with the new schema', async () => {
    const t = await newTable(`CREATE TABLE $T (id int PRIMARY KEY)`);
    const { config } = await prepared(db, {
      slot: uniqueName('s'),
      publication: uniqueName('p'),
      publication_tables: t,
      batch_size: '100',
      batch_timeout: '500ms',
    });
    const { source, it } = openSource(config);
    try {
      await db.query(`INSERT INTO ${t} VALUES (1)`);
      await db.query(`ALTER TABLE ${t} ADD COLUMN note varchar(20) NOT NULL DEFAULT 'n'`);
      await db.query(`INSERT INTO ${t} VALUES (2, 'hello')`);
      const { batches } = await pullChanges(it, 2);
      const withChanges = batches.filter((b) => b.changes.length > 0);
      expect(withChanges).toHaveLength(2);
      expect(withChanges[0]!.schemas.get(`public.${t}`)!.columns.map((c) => c.name)).toEqual(['id']);
      const after = withChanges[1]!.schemas.get(`public.${t}`)!;
      expect(after.columns.map((c) => [c.name, c.formattedType, c.nullable])).toEqual([
        ['id', 'integer', false],
        ['note', 'character varying(20)', false],
      ]);
      expect(withChanges[1]!.changes[0]!.after).toEqual({ id: 2, note: 'hello' });
    } finally {
      await source.close();
    }
  });

  test("changes of DuctStream's own schemas are never delivered (FOR ALL TABLES)", async () => {
    const t = await newTable(`CREATE TABLE $T (id int PRIMARY KEY)`);
    const { config } = await prepared(db, { slot: uniqueName('s'), publication: uniqueName('p'), batch_timeout: '200ms' });
    const { source, it } = openSource(config);
    try {
      await db.query(`UPDATE ductstream.source_state SET updated_at = now()`);
      await db.query(`INSERT INTO ${t} VALUES (1)`);
      const { changes } = await pullChanges(it, 1);
      expect(changes.map((c) => `${c.table.schema}.${c.table.name}`)).toEqual([`public.${t}`]);
    } finally {
      await source.close();
    }
  });

  test('a second consumer of the same slot gets an error naming the slot', async () => {
    const slot = uniqueName('s');
    const { config } = await prepared(db, { slot, publication: uniqueName('p'), batch_timeout: '200ms' });
    const a = openSource(config);
    try {
      await nextBatch(a.it);
      const b = new PostgresSource(config, { flowId: 'other', log: silentLogger });
      const started = Date.now();
      const it = b.open(0n)[Symbol.asyncIterator]();
      const err = await it.next().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DuctError);
      expect((err as DuctError).code).toBe('unavailable');
      expect((err as DuctError).retry).toBe('transient');
      expect((err as DuctError).message).toContain(`another process is streaming from slot ${slot}`);
      expect(Date.now() - started).toBeLessThan(10_000);
      await b.close();
    } finally {
      await a.source.close();
    }
  });

  test('a dropped connection is a transient unavailable error; reopening resumes', async () => {
    const t = await newTable(`CREATE TABLE $T (id int PRIMARY KEY)`);
    const slot = uniqueName('s');
    const { config } = await prepared(db, { slot, publication: uniqueName('p'), publication_tables: t, batch_timeout: '200ms' });
    const { source, it } = openSource(config);
    try {
      await nextBatch(it);
      await db.query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
      let err: unknown;
      for (let i = 0; i < 50 && err === undefined; i++) {
        try {
          await nextBatch(it);
        } catch (e) {
          err = e;
        }
      }
      expect(err).toBeInstanceOf(DuctError);
      expect((err as DuctError).code).toBe('unavailable');
      expect((err as DuctError).retry).toBe('transient');
    } finally {
      await source.close();
    }
    const again = openSource(config);
    try {
      await db.query(`INSERT INTO ${t} VALUES (1)`);
      const { changes } = await pullChanges(again.it, 1);
      expect(changes[0]!.after).toEqual({ id: 1 });
    } finally {
      await again.source.close();
    }
  });

  test('memory stays bounded: the source stops reading while the consumer does not pull', async () => {
    const t = await newTable(`CREATE TABLE $T (id int PRIMARY KEY, pad text)`);
    const { config } = await prepared(db, {
      slot: uniqueName('s'),
      publication: uniqueName('p'),
      publication_tables: t,
      batch_size: '100',
      batch_timeout: '300ms',
    });
    const { source, it } = openSource(config);
    try {
      await db.query(`INSERT INTO ${t} SELECT g, repeat('x', 200) FROM generate_series(1, 50000) g`);
      const first = await nextNonEmpty(it);
      await new Promise((r) => setTimeout(r, 1500));
      // Received position stays far behind the 50k rows: only a few batches were decoded ahead.
      const stats = source.stats();
      expect(stats.changes).toBeLessThan(5000);
      let total = first.changes.length;
      while (total < 50000) total += (await nextBatch(it)).changes.length;
      expect(total).toBe(50000);
    } finally {
      await source.close();
    }
  });

  test('readAheadRows: small batches are decoded ahead up to that many changes, and no further', async () => {
    const t = await newTable(`CREATE TABLE $T (id int PRIMARY KEY, pad text)`);
    const { config } = await prepared(db, {
      slot: uniqueName('s'),
      publication: uniqueName('p'),
      publication_tables: t,
      batch_size: '100',
      batch_timeout: '300ms',
    });
    const source = new PostgresSource(config, { flowId: 'test-flow', log: silentLogger, readAheadRows: 3000 });
    const it = source.open(0n)[Symbol.asyncIterator]();
    try {
      await db.query(`INSERT INTO ${t} SELECT g, repeat('x', 200) FROM generate_series(1, 50000) g`);
      const first = await nextNonEmpty(it);
      await waitFor(async () => (source.stats().changes >= 3000 ? true : undefined), 10_000, '3000 changes decoded ahead');
      await new Promise((r) => setTimeout(r, 1000));
      expect(source.stats().changes).toBeLessThan(8000);
      let total = first.changes.length;
      let last = first.changes.at(-1)!.after!.id as number;
      while (total < 50000) {
        const b = await nextBatch(it);
        for (const c of b.changes) expect(c.after!.id).toBe(++last);
        total += b.changes.length;
      }
      expect(total).toBe(50000);
    } finally {
      await source.close();
    }
  });

  test('measureRawDrain reads a slot to the WAL end and acknowledges it', async () => {
    const t = await newTable(`CREATE TABLE $T (id int PRIMARY KEY, v text)`);
    const slot = uniqueName('s');
    const publication = uniqueName('p');
    await prepared(db, { slot, publication, publication_tables: t });
    await db.query(`INSERT INTO ${t} SELECT g, 'v' || g FROM generate_series(1, 2000) g`);
    await db.query(`UPDATE ${t} SET v = 'w' WHERE id <= 10`);
    const r = await measureRawDrain({ dsn: db.dsn, slot, publication, timeoutMs: 30_000 });
    expect(r.rows).toBe(2010);
    expect(r.transactions).toBe(2);
    expect(r.rowsPerSecond).toBeGreaterThan(0);
    expect(r.ackedLsn).toBeGreaterThanOrEqual(r.targetLsn);
    await waitFor(async () => (((await confirmedFlush(db, slot)) ?? 0n) >= r.targetLsn ? true : undefined), 10_000, 'the drain ack');
  });
});

export type { Batch };
