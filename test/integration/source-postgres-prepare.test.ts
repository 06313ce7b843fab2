import { DuctError } from '../../src/core/errors';
import { silentLogger } from '../../src/core/log';
import { startLocalCluster, type LocalCluster } from '../../tools/localpg';
import { parsePostgresSourceConfig } from '../../src/source/postgres/config';
import { preparePostgresSource } from '../../src/source/postgres/prepare';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { prepared, sourceConfig, uniqueName } from './source-postgres-helpers';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('source_postgres_prepare');
  await db.query(`CREATE SCHEMA sales; CREATE SCHEMA audit;
    CREATE TABLE public.users (id int PRIMARY KEY);
    CREATE TABLE public.orders (id int PRIMARY KEY);
    CREATE TABLE sales.invoices (id int PRIMARY KEY);
    CREATE TABLE sales.lines (id int PRIMARY KEY);
    CREATE TABLE audit.log (id int PRIMARY KEY);
    CREATE SCHEMA IF NOT EXISTS ductstream; CREATE TABLE ductstream.internal_thing (id int)`);
});

afterAll(async () => {
  await db.drop();
});

async function publicationTables(pub: string): Promise<string[]> {
  const rows = await db.query<{ t: string }>(`SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1`, [pub]);
  return rows.map((r) => r.t);
}

async function rejection(p: Promise<unknown>): Promise<DuctError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DuctError);
  return e as DuctError;
}

describe('preparePostgresSource', () => {
  test('creates the publication from publication_tables and the slot; a second run changes nothing', async () => {
    const slot = uniqueName('s');
    const pub = uniqueName('p');
    const first = await prepared(db, { slot, publication: pub, publication_tables: 'users,sales.invoices' });
    expect(first.result).toMatchObject({
      slot,
      publication: pub,
      slotCreated: true,
      publicationCreated: true,
      allTables: false,
      addedTables: [],
      droppedTables: [],
    });
    expect(first.result.confirmedFlushLsn).toBeGreaterThan(0n);
    expect(first.result.tables).toEqual([
      { schema: 'public', name: 'users' },
      { schema: 'sales', name: 'invoices' },
    ]);
    expect(await publicationTables(pub)).toEqual(['public.users', 'sales.invoices']);
    const slots = await db.query<{ plugin: string; database: string }>(`SELECT plugin, database FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
    expect(slots).toEqual([{ plugin: 'pgoutput', database: db.name }]);
    const second = await prepared(db, { slot, publication: pub, publication_tables: 'users,sales.invoices' });
    expect(second.result).toMatchObject({ slotCreated: false, publicationCreated: false, confirmedFlushLsn: first.result.confirmedFlushLsn });
    expect(await publicationTables(pub)).toEqual(['public.users', 'sales.invoices']);
  });

  test("publication_schemas takes the schemas' tables; FOR ALL TABLES otherwise; internal schemas never listed", async () => {
    const pub = uniqueName('p');
    await prepared(db, { slot: uniqueName('s'), publication: pub, publication_schemas: 'sales,ductstream', publication_tables: 'audit.log' });
    expect(await publicationTables(pub)).toEqual(['audit.log', 'sales.invoices', 'sales.lines']);
    const all = uniqueName('p');
    const r = await prepared(db, { slot: uniqueName('s'), publication: all });
    expect(r.result.allTables).toBe(true);
    expect(r.result.tables.map((x) => `${x.schema}.${x.name}`)).toEqual(expect.arrayContaining(['public.users', 'sales.lines', 'audit.log']));
  });

  test('sync_publication adds missing tables (add) and drops extras (sync)', async () => {
    const pub = uniqueName('p');
    const slot = uniqueName('s');
    await prepared(db, { slot, publication: pub, publication_tables: 'users' });
    const add = await prepared(db, { slot, publication: pub, publication_tables: 'users,orders', sync_publication: 'true' });
    expect(add.result.addedTables).toEqual([{ schema: 'public', name: 'orders' }]);
    expect(add.result.droppedTables).toEqual([]);
    expect(await publicationTables(pub)).toEqual(['public.orders', 'public.users']);
    const keep = await prepared(db, { slot, publication: pub, publication_schemas: 'sales', sync_publication: 'true' });
    expect(keep.result.droppedTables).toEqual([]);
    expect(await publicationTables(pub)).toEqual(['public.orders', 'public.users', 'sales.invoices', 'sales.lines']);
    const sync = await prepared(db, { slot, publication: pub, publication_schemas: 'sales', sync_publication: 'true', sync_publication_mode: 'sync' });
    expect(sync.result.droppedTables).toEqual([
      { schema: 'public', name: 'orders' },
      { schema: 'public', name: 'users' },
    ]);
    expect(await publicationTables(pub)).toEqual(['sales.invoices', 'sales.lines']);
  });

  test('ensure_state upserts the flow record in the source database', async () => {
    const slot = uniqueName('s');
    const pub = uniqueName('p');
    const { result } = await prepared(db, {
      slot,
      publication: pub,
      publication_tables: 'users',
      state_schema: 'ds_meta',
      state_table: 'src',
      flow_id: 'flow-x',
    });
    const rows = await db.query<{ flow_id: string; slot: string; publication: string; tables: string[]; lsn: string; created_at: Date; updated_at: Date }>(
      `SELECT flow_id, slot, publication, tables, last_acked_lsn::text AS lsn, created_at, updated_at FROM ds_meta.src WHERE slot = $1`,
      [slot],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ flow_id: 'flow-x', slot, publication: pub, tables: ['public.users'] });
    expect(rows[0]!.lsn).not.toBeNull();
    expect(result.confirmedFlushLsn).not.toBeNull();
    await prepared(db, { slot, publication: pub, publication_tables: 'users', state_schema: 'ds_meta', state_table: 'src', flow_id: 'flow-x' });
    const again = await db.query<{ n: number; later: boolean }>(
      `SELECT count(*)::int AS n, bool_and(updated_at >= created_at) AS later FROM ds_meta.src WHERE slot = $1`,
      [slot],
    );
    expect(again[0]).toEqual({ n: 1, later: true });
    const noState = uniqueName('s');
    await prepared(db, { slot: noState, publication: pub, ensure_state: 'false', state_schema: 'ds_meta', state_table: 'src' });
    expect(await db.query(`SELECT 1 FROM ds_meta.src WHERE slot = $1`, [noState])).toHaveLength(0);
    // The flow id defaults to the runner's flow id.
    const byFlow = uniqueName('s');
    await prepared(db, { slot: byFlow, publication: pub });
    expect(await db.query(`SELECT flow_id FROM ductstream.source_state WHERE slot = $1`, [byFlow])).toEqual([{ flow_id: 'test-flow' }]);
  });

  test('missing things it may not create are failed preconditions with a fix', async () => {
    const noSlot = await rejection(prepared(db, { slot: uniqueName('s'), publication: uniqueName('p'), create_slot: 'false', publication_tables: 'users' }));
    expect(noSlot).toMatchObject({ code: 'failed_precondition', retry: 'never', field: 'source.options.slot' });
    expect(noSlot.hint).toContain('create_slot=true');
    const noPub = await rejection(prepared(db, { slot: uniqueName('s'), publication: uniqueName('p'), ensure_publication: 'false' }));
    expect(noPub).toMatchObject({ code: 'failed_precondition', field: 'source.options.publication' });
    const noTable = await rejection(prepared(db, { slot: uniqueName('s'), publication: uniqueName('p'), publication_tables: 'nope' }));
    expect(noTable).toMatchObject({ code: 'invalid_argument', field: 'source.options.publication_tables' });
    expect(noTable.message).toContain('public.nope');
    const noSchema = await rejection(prepared(db, { slot: uniqueName('s'), publication: uniqueName('p'), publication_schemas: 'nowhere' }));
    expect(noSchema).toMatchObject({ code: 'invalid_argument', field: 'source.options.publication_schemas' });
  });

  test('a slot with another plugin is refused', async () => {
    const slot = uniqueName('s');
    await db.query(`SELECT pg_create_logical_replication_slot($1, 'test_decoding')`, [slot]);
    const e = await rejection(prepared(db, { slot, publication: uniqueName('p'), publication_tables: 'users' }));
    expect(e.code).toBe('failed_precondition');
    expect(e.message).toContain('test_decoding');
  });

  test('an unreachable DSN is unavailable, names the field, and never shows the password', async () => {
    const config = parsePostgresSourceConfig({ dsn: 'postgres://me:topsecret@127.0.0.1:1/nowhere', slot: 'x', publication: 'y' }, 'source.options');
    const e = await rejection(preparePostgresSource(config, { flowId: 'f', log: silentLogger }));
    expect(e).toMatchObject({ code: 'unavailable', retry: 'transient', field: 'source.options.dsn' });
    expect(e.message).toContain('source.options.dsn');
    expect(e.message).toContain('127.0.0.1:1');
    expect(e.message).not.toContain('topsecret');
    expect(e.describe()).not.toContain('topsecret');
    expect(e.message).toMatch(/^source\.options\.dsn: cannot connect to PostgreSQL at postgres:\/\/me:\*\*\*\*@127\.0\.0\.1:1\/nowhere/);
    const kv = parsePostgresSourceConfig({ dsn: 'host=127.0.0.1 port=1 user=me password=topsecret dbname=x', slot: 'x', publication: 'y' }, 'source.options');
    const e2 = await rejection(preparePostgresSource(kv, { flowId: 'f', log: silentLogger }));
    expect(e2.code).toBe('unavailable');
    expect(e2.message).not.toContain('topsecret');
  });
});

describe('validate_replication', () => {
  let replica: LocalCluster;

  beforeAll(async () => {
    replica = await startLocalCluster({ settings: { wal_level: 'replica' } });
  });

  afterAll(async () => {
    await replica.stop();
  });

  test('wal_level=replica is refused naming the setting and the fix', async () => {
    const config = parsePostgresSourceConfig({ dsn: replica.dsn('postgres'), slot: 'x', publication: 'y' }, 'source.options');
    const e = await rejection(preparePostgresSource(config, { flowId: 'f', log: silentLogger }));
    expect(e).toMatchObject({ code: 'failed_precondition', retry: 'never' });
    expect(e.message).toContain('wal_level');
    expect(e.message).toContain('replica');
    expect(e.hint).toContain('wal_level = logical');
    // Nothing was created.
    const pubs = await (async () => {
      const { Client } = await import('pg');
      const c = new Client(replica.dsn('postgres'));
      await c.connect();
      try {
        return (await c.query(`SELECT count(*)::int AS n FROM pg_publication`)).rows[0].n as number;
      } finally {
        await c.end();
      }
    })();
    expect(pubs).toBe(0);
  });

  test('validate_replication=false skips the checks (and slot creation then fails on the server)', async () => {
    const config = sourceConfig({ ...db, dsn: replica.dsn('postgres') }, { slot: 'x', publication: 'y', validate_replication: 'false', ensure_state: 'false' });
    const e = await rejection(preparePostgresSource(config, { flowId: 'f', log: silentLogger }));
    expect(e.message).toMatch(/wal_level/);
    expect(e).toMatchObject({ code: 'failed_precondition', retry: 'never' });
  });

  test('all replication slots in use: a new slot cannot be created', async () => {
    const tiny = await startLocalCluster({ settings: { max_replication_slots: '1' } });
    try {
      const { Client } = await import('pg');
      const c = new Client(tiny.dsn('postgres'));
      await c.connect();
      await c.query(`SELECT pg_create_logical_replication_slot('taken', 'pgoutput')`);
      await c.end();
      const config = parsePostgresSourceConfig({ dsn: tiny.dsn('postgres'), slot: 'another', publication: 'y' }, 'source.options');
      const e = await rejection(preparePostgresSource(config, { flowId: 'f', log: silentLogger }));
      expect(e.code).toBe('failed_precondition');
      expect(e.message).toContain('max_replication_slots');
    } finally {
      await tiny.stop();
    }
  });
});
