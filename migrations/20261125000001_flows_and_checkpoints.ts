import type { Knex } from 'knex';

/** Flows and their checkpoints, in the `ductstream` schema of DUCTSTREAM_POSTGRES_DSN. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('ductstream').createTable('flows', (t) => {
    t.text('id').primary();
    t.text('name').notNullable();
    t.jsonb('source').notNullable();
    t.jsonb('destinations').notNullable();
    t.text('wire_format').notNullable().defaultTo('');
    t.integer('parallelism').notNullable().defaultTo(1);
    t.text('state').notNullable().defaultTo('created');
    t.text('state_reason').notNullable().defaultTo('');
    t.integer('version').notNullable().defaultTo(1);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`ALTER TABLE ductstream.flows ADD CONSTRAINT flows_state_check CHECK (state IN ('created','running','paused','stopped','failed'))`);
  await knex.raw(`CREATE TABLE ductstream.checkpoints (
    flow_id text NOT NULL,
    slot text NOT NULL,
    lsn pg_lsn NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (flow_id, slot))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('ductstream').dropTableIfExists('checkpoints');
  await knex.schema.withSchema('ductstream').dropTableIfExists('flows');
}
