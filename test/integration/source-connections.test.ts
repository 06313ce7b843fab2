/**
 * The status sampler's kept source connections, on the real test cluster: one connection per
 * server is reused across queries, a broken one is replaced at the next query, and after close()
 * every connection is gone from pg_stat_activity and a late query is refused rather than opening
 * a connection nothing would close.
 */
import { SourceConnections } from '../../src/status/sourceConnections';
import { createTestDatabase, type TestDatabase } from '../support/pg';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('source_connections');
});
afterAll(async () => {
  await db.drop();
});

const statusBackends = async (): Promise<number[]> =>
  (
    await db.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'ductstream:status' ORDER BY pid`, [db.name])
  ).map((r) => r.pid);

test('reuses one connection, replaces a broken one, and stays closed after close()', async () => {
  const connections = new SourceConnections();
  const pidOf = async () => Number((await connections.query(db.dsn, 'SELECT pg_backend_pid() AS pid', []))[0]?.pid);

  const first = await pidOf();
  expect(await pidOf()).toBe(first);
  expect(await statusBackends()).toEqual([first]);

  await db.query('SELECT pg_terminate_backend($1)', [first]);
  // Either the idle client's error event dropped it already, or the next query fails and drops it.
  const second = await pidOf().catch(pidOf);
  expect(second).not.toBe(first);

  const late = pidOf();
  await connections.close();
  await late.catch(() => undefined);
  await expect(connections.query(db.dsn, 'SELECT 1', [])).rejects.toThrow(/closed/);
  await expect(connections.query(db.dsn, 'SELECT 1', [])).rejects.toThrow(/closed/);
  for (let i = 0; i < 50 && (await statusBackends()).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  expect(await statusBackends()).toEqual([]);
});
