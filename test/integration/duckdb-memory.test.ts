/**
 * DuckDB `dsn: ":memory:"`: the database lives as long as the process. A step that fails closes its
 * destinations and the retry opens them again; the rows written before (already checkpointed) must
 * still be there, and the watermark must still skip what was applied.
 */
import { duckdbDestinationKind } from '../../src/destinations/duckdb';
import type { DuckdbDestination } from '../../src/destinations/duckdb/destination';
import { ChangeLog, destinationContext, table } from '../support/changes';
import { tableText } from '../support/duckdb';

const users = table('public.users', { id: 'int8', name: 'text' }, { primaryKey: ['id'] });

async function openMemory(flowId: string, name = 'dest', options: Record<string, string> = {}): Promise<DuckdbDestination> {
  const config = duckdbDestinationKind.parseConfig({ dsn: ':memory:', ...options }, 'destinations[0].options');
  const d = (await duckdbDestinationKind.create(config, destinationContext(flowId, name))) as DuckdbDestination;
  await d.open();
  return d;
}

describe('DuckDB :memory: destination', () => {
  test('closed and reopened (a retried step), it keeps its rows and skips what it applied', async () => {
    const log = new ChangeLog('mem-flow');
    log.tx((t) => t.insert(users, { id: 1n, name: 'a' }).insert(users, { id: 2n, name: 'b' }));
    const first = log.batch();
    const before = await openMemory('mem-flow');
    await before.write(first);
    await before.close();

    log.tx((t) => t.update(users, { id: 1n, name: 'a2' }).insert(users, { id: 3n, name: 'c' }));
    const again = await openMemory('mem-flow');
    try {
      expect(await again.writeBatch(first)).toEqual({ tables: 0, applied: 0, skipped: 2 });
      await again.write(log.batch());
      expect(await tableText(again, 'public.users')).toEqual([
        { id: '1', name: 'a2' },
        { id: '2', name: 'b' },
        { id: '3', name: 'c' },
      ]);
    } finally {
      await again.close();
    }
  });

  test('each flow destination has its own in-memory database', async () => {
    const log = new ChangeLog('mem-a');
    log.tx((t) => t.insert(users, { id: 1n, name: 'only in a' }));
    const a = await openMemory('mem-a');
    const b = await openMemory('mem-a', 'other');
    try {
      await a.write(log.batch());
      expect(await tableText(a, 'public.users')).toHaveLength(1);
      const tables = await b.connection.runAndReadAll(`SELECT count(*)::INT AS n FROM information_schema.tables WHERE table_name = 'users'`);
      expect(tables.getRowObjectsJson()).toEqual([{ n: 0 }]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('memory_limit becomes the memory limit of the database; rows are still written', async () => {
    const log = new ChangeLog('mem-limit');
    log.tx((t) => t.insert(users, { id: 1n, name: 'a' }));
    const d = await openMemory('mem-limit', 'dest', { memory_limit: '96MB' });
    try {
      await d.write(log.batch());
      const limit = await d.connection.runAndReadAll(`SELECT current_setting('memory_limit') AS v`);
      expect(limit.getRowObjectsJson()).toEqual([{ v: '91.5 MiB' }]);
      expect(await tableText(d, 'public.users')).toEqual([{ id: '1', name: 'a' }]);
    } finally {
      await d.close();
    }
  });
});
