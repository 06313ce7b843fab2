import { Client } from 'pg';
import { randomBytes } from 'node:crypto';

/** The private test cluster started by globalSetup (see globalSetup.ts). */
export function clusterPort(): number {
  const port = Number(process.env.DUCTSTREAM_TEST_PG_PORT);
  if (!port) throw new Error('DUCTSTREAM_TEST_PG_PORT is not set: run tests through jest (globalSetup starts the cluster)');
  return port;
}

export function clusterDsn(database = 'postgres'): string {
  return `postgres://postgres@127.0.0.1:${clusterPort()}/${database}`;
}

export interface TestDatabase {
  name: string;
  dsn: string;
  /** A connected client on the database, for setup and for reading the source back. */
  client: Client;
  query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Drops the database, its replication slots and its DBOS system database. */
  drop(): Promise<void>;
}

/** Creates a fresh database named after the test file, e.g. `createTestDatabase('source_postgres')`. */
export async function createTestDatabase(prefix: string): Promise<TestDatabase> {
  const name = `${prefix.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(3).toString('hex')}`;
  const admin = new Client(clusterDsn());
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const dsn = clusterDsn(name);
  const client = new Client(dsn);
  await client.connect();
  return {
    name,
    dsn,
    client,
    query: async <T extends Record<string, unknown>>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as T[],
    drop: async () => {
      await client.end().catch(() => undefined);
      const a = new Client(clusterDsn());
      await a.connect();
      try {
        const dbs = [name, `${name}_dbos_sys`, `${name}_ductstream_dbos_sys`];
        await a.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ANY($1) AND pid <> pg_backend_pid()`, [dbs]);
        await a.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active`, [name]);
        for (const db of dbs) await a.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}
