/**
 * DBOS's system database pool opens connections without node pg's deprecation warning "Calling
 * client.query() when the client is already executing a query" (it came from the SET of the
 * idle-in-transaction timeout DBOS queued on every new connection, ahead of the query the
 * connection was opened for), and its sessions still get that timeout. Real PostgreSQL, real DBOS.
 */
import { DBOS } from '@dbos-inc/dbos-sdk';
import { Client } from 'pg';
import { readServiceEnv } from '../../src/config/env';
import { silentLogger } from '../../src/core/log';
import { launchDbos, shutdownDbos } from '../../src/workflows/dbos';
import { withIdleTransactionTimeout } from '../../src/workflows/systemDatabaseUrl';
import { createTestDatabase, type TestDatabase } from '../support/pg';

jest.setTimeout(120_000);

let stateDb: TestDatabase;

beforeAll(async () => {
  stateDb = await createTestDatabase('dbospool_state');
});

afterAll(async () => {
  await shutdownDbos();
  await stateDb?.drop();
});

test('new system pool connections queue no query behind another, and carry the idle-in-transaction timeout', async () => {
  // node pg warns when query() finds another query already queued behind the active one (its
  // `_queryQueue`); the warning itself goes to Node's process, outside Jest's sandbox, so the
  // condition is recorded where it arises.
  const queuedBehind: string[] = [];
  const proto = Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
  const query = proto.query;
  proto.query = function (this: { _queryQueue?: unknown[]; pipeline?: boolean }, ...a: unknown[]) {
    if ((this._queryQueue?.length ?? 0) > 0 && !this.pipeline) queuedBehind.push(typeof a[0] === 'string' ? a[0] : 'query object');
    return query.apply(this, a);
  };
  try {
    const env = readServiceEnv({ DUCTSTREAM_POSTGRES_DSN: stateDb.dsn });
    await launchDbos({ env, executorId: 'dbos-pool-test', systemDatabaseUrl: env.dbosSystemDatabaseUrl!, log: silentLogger });
    // Queries at once: the pool opens new connections for them.
    const lists = await Promise.all(Array.from({ length: 6 }, () => DBOS.listWorkflows({ limit: 1 })));
    expect(lists).toHaveLength(6);
    expect(queuedBehind).toEqual([]);

    // The same setting reaches the session through the URL.
    const client = new Client({ connectionString: withIdleTransactionTimeout(env.dbosSystemDatabaseUrl!) });
    await client.connect();
    try {
      const { rows } = await client.query<{ v: string }>('SELECT current_setting($1) AS v', ['idle_in_transaction_session_timeout']);
      expect(rows[0]!.v).toBe('1min');
    } finally {
      await client.end();
    }
  } finally {
    proto.query = query;
  }
});

test('a URL that already sets the timeout, or is not a URL, is left alone; other options are kept', () => {
  const set = 'postgres://u@h:5432/d?options=-c%20idle_in_transaction_session_timeout%3D5000';
  expect(withIdleTransactionTimeout(set)).toBe(set);
  expect(withIdleTransactionTimeout('host=/tmp dbname=d')).toBe('host=/tmp dbname=d');
  const other = new URL(withIdleTransactionTimeout('postgresql://u@h/d?options=-c%20search_path%3Dx&sslmode=disable'));
  expect(other.searchParams.get('options')).toBe('-c search_path=x -c idle_in_transaction_session_timeout=60000');
  expect(other.searchParams.get('sslmode')).toBe('disable');
});
