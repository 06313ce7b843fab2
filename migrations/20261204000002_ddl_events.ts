import type { Knex } from 'knex';

/**
 * DDL governance: `ddl_events` (one row per detected schema change of a source table) and
 * `ddl_baselines` (the last schema of each table a flow has announced, so a restart neither loses
 * nor re-announces a change).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TABLE ductstream.ddl_events (
    id bigserial PRIMARY KEY,
    flow_id text NOT NULL,
    lsn pg_lsn NOT NULL,
    table_schema text NOT NULL,
    table_name text NOT NULL,
    kind text NOT NULL,
    ddl text,
    old_columns jsonb,
    new_columns jsonb,
    new_schema jsonb,
    changes jsonb NOT NULL DEFAULT '[]',
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','approved','rejected','applied','failed')),
    reason text NOT NULL DEFAULT '',
    actor text NOT NULL DEFAULT '',
    apply_requested boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    decided_at timestamptz,
    applied_at timestamptz)`);
  await knex.raw(`CREATE INDEX ddl_events_flow_status ON ductstream.ddl_events (flow_id, status)`);
  await knex.raw(`CREATE TABLE ductstream.ddl_baselines (
    flow_id text NOT NULL,
    table_schema text NOT NULL,
    table_name text NOT NULL,
    schema jsonb,
    lsn pg_lsn NOT NULL DEFAULT '0/0',
    seq integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (flow_id, table_schema, table_name))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS ductstream.ddl_baselines');
  await knex.raw('DROP TABLE IF EXISTS ductstream.ddl_events');
}
