import type { Knex } from 'knex';
import * as flowsAndCheckpoints from '../../migrations/20261125000001_flows_and_checkpoints';
import * as ddlEvents from '../../migrations/20261204000001_ddl_events';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * The knex migrations of `migrations/`, listed here in order so they load the same way from
 * TypeScript (tests) and from the compiled `dist/` (binaries). Add new files at the end.
 */
const MIGRATIONS: ReadonlyArray<[string, Migration]> = [
  ['20261125000001_flows_and_checkpoints', flowsAndCheckpoints],
  ['20261204000001_ddl_events', ddlEvents],
];

export const migrationSource: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => [...MIGRATIONS].sort((a, b) => a[0].localeCompare(b[0])),
  getMigrationName: (m) => m[0],
  getMigration: async (m) => m[1],
};
