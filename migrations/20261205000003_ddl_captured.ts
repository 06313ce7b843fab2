import type { Knex } from 'knex';

/**
 * `ddl_captured`: DDL text the event trigger wrote into the WAL, kept per table until the table's
 * next change with a new shape is announced (the text goes into its `ddl_events` row). Persisted
 * because the logical message may be confirmed long before that row arrives: a restart in between
 * must not lose the text.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TABLE ductstream.ddl_captured (
    flow_id text NOT NULL,
    table_schema text NOT NULL,
    table_name text NOT NULL,
    message_lsn pg_lsn NOT NULL,
    lsn pg_lsn NOT NULL,
    seq integer NOT NULL,
    tag text NOT NULL,
    ddl text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (flow_id, table_schema, table_name, message_lsn))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS ductstream.ddl_captured');
}
