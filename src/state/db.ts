import knexFactory, { type Knex } from 'knex';
import { Client, Pool } from 'pg';
import { DuctError } from '../core/errors';
import { migrationSource } from './migrations';

/** An arbitrary constant: the advisory lock that serializes migrations across processes. */
const MIGRATION_LOCK = 7_215_342_019;

/** A pg Pool on DUCTSTREAM_POSTGRES_DSN whose idle-client errors are logged, not fatal. */
export function createStatePool(dsn: string, max = 5): Pool {
  const pool = new Pool({ connectionString: dsn, max, application_name: 'ductstream' });
  pool.on('error', () => undefined);
  return pool;
}

/** Checks the state database answers; a clear error naming DUCTSTREAM_POSTGRES_DSN otherwise. */
export async function checkStateDatabase(pool: Pool): Promise<void> {
  try {
    await pool.query('SELECT 1');
  } catch (e) {
    throw new DuctError('unavailable', `DUCTSTREAM_POSTGRES_DSN: cannot connect: ${(e as Error).message}`, {
      field: 'DUCTSTREAM_POSTGRES_DSN',
      hint: 'check host, port, database and credentials, and that the server is running',
      cause: e,
    });
  }
}

/**
 * Runs the knex migrations of `migrations/` on DUCTSTREAM_POSTGRES_DSN (schema `ductstream`).
 * Safe to call from many processes at once: an advisory lock serializes them.
 */
export async function migrateStateDatabase(dsn: string): Promise<void> {
  const lockClient = new Client({ connectionString: dsn, application_name: 'ductstream-migrate' });
  try {
    await lockClient.connect();
  } catch (e) {
    throw new DuctError('unavailable', `DUCTSTREAM_POSTGRES_DSN: cannot connect: ${(e as Error).message}`, {
      field: 'DUCTSTREAM_POSTGRES_DSN',
      hint: 'check host, port, database and credentials',
      cause: e,
    });
  }
  let knex: Knex | undefined;
  try {
    await lockClient.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await lockClient.query('CREATE SCHEMA IF NOT EXISTS ductstream');
    knex = knexFactory({ client: 'pg', connection: dsn, pool: { min: 0, max: 1 } });
    await knex.migrate.latest({ migrationSource, schemaName: 'ductstream', tableName: 'knex_migrations' });
  } finally {
    await knex?.destroy();
    await lockClient.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await lockClient.end().catch(() => undefined);
  }
}
