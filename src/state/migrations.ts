import type { Knex } from 'knex';
import * as flowsAndCheckpoints from '../../migrations/20261125000001_flows_and_checkpoints';
import * as flowStats from '../../migrations/20261204000001_flow_stats';
import * as ddlEvents from '../../migrations/20261204000002_ddl_events';
import * as ddlCaptured from '../../migrations/20261205000003_ddl_captured';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * The knex migrations of `migrations/`, listed here in order so they load the same way from
 * TypeScript (tests) and from the compiled `dist/` (binaries), run in plain character order of
 * their names (knex's own order). Add new files at the end, with a later name.
 */
const MIGRATIONS: ReadonlyArray<[string, Migration]> = [
  ['20261125000001_flows_and_checkpoints', flowsAndCheckpoints],
  ['20261204000001_flow_stats', flowStats],
  ['20261204000002_ddl_events', ddlEvents],
  ['20261205000003_ddl_captured', ddlCaptured],
];

export const migrationSource: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => [...MIGRATIONS].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
  getMigrationName: (m) => m[0],
  getMigration: async (m) => m[1],
};
