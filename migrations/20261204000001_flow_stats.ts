import type { Knex } from 'knex';

/**
 * Live numbers of each flow, written by the process that runs it (src/status/statsStore.ts) so
 * that the API server, the admin CLI and the web page show the same status: one row per flow,
 * and rows delivered per table and operation.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TABLE ductstream.flow_stats (
    flow_id text PRIMARY KEY,
    received_lsn pg_lsn,
    last_applied_commit_at timestamptz,
    caught_up_at timestamptz,
    retries bigint NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    last_error_hint text NOT NULL DEFAULT '',
    last_error_at timestamptz,
    heartbeat_lsn pg_lsn,
    heartbeat_at timestamptz,
    executor text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now())`);
  await knex.raw(`CREATE TABLE ductstream.flow_table_stats (
    flow_id text NOT NULL,
    table_name text NOT NULL,
    op text NOT NULL,
    rows bigint NOT NULL DEFAULT 0,
    rows_per_second double precision NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (flow_id, table_name, op))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS ductstream.flow_table_stats');
  await knex.raw('DROP TABLE IF EXISTS ductstream.flow_stats');
}
