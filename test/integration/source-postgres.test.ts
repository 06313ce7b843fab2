import type { Batch } from '../../src/core/change';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { nextBatch, openSource, prepared, pullChanges, uniqueName } from './source-postgres-helpers';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('source_postgres');
});

afterAll(async () => {
  await db.drop();
});

describe('PostgresSource streaming', () => {
  test('insert, update, delete and truncate arrive in commit order with transaction metadata', async () => {
    await db.query(`CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int8)`);
    const slot = uniqueName('s');
    const { config } = await prepared(db, { slot, publication: 'pub_items', publication_tables: 'items', batch_timeout: '200ms' });
    const { source, it } = openSource(config);
    try {
      await db.query(`BEGIN; INSERT INTO items VALUES (1, 'a', 10), (2, 'b', 9223372036854775807); COMMIT;`);
      await db.query(`UPDATE items SET name = 'a2' WHERE id = 1`);
      await db.query(`DELETE FROM items WHERE id = 2`);
      await db.query(`TRUNCATE items`);
      const { changes, batches } = await pullChanges(it, 5);
      expect(changes.map((c) => c.op)).toEqual(['insert', 'insert', 'update', 'delete', 'truncate']);
      expect(changes[0]!.after).toEqual({ id: 1, name: 'a', qty: 10n });
      expect(changes[1]!.after).toEqual({ id: 2, name: 'b', qty: 9223372036854775807n });
      expect(changes[0]!.seq).toBe(0);
      expect(changes[1]!.seq).toBe(1);
      expect(changes[0]!.commitLsn).toBe(changes[1]!.commitLsn);
      expect(changes[0]!.xid).toBe(changes[1]!.xid);
      expect(changes[2]!.key).toEqual({ id: 1 });
      expect(changes[2]!.after).toEqual({ id: 1, name: 'a2', qty: 10n });
      expect(changes[3]!.key).toEqual({ id: 2 });
      expect(changes[3]!.after).toBeNull();
      expect(changes[4]!.table).toEqual({ schema: 'public', name: 'items' });
      const last: Batch = batches[batches.length - 1]!;
      expect(last.schemas.get('public.items')!.primaryKey).toEqual(['id']);
      expect(last.checkpointLsn).toBeGreaterThan(0n);
      const now = BigInt(Date.now()) * 1000n;
      expect(Number(now - changes[0]!.commitTimeMicros)).toBeLessThan(60_000_000);
      expect(Number(now - changes[0]!.commitTimeMicros)).toBeGreaterThan(-5_000_000);
      const empty = await nextBatch(it);
      expect(empty.changes).toHaveLength(0);
    } finally {
      await source.close();
    }
  });
});
