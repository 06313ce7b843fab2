/**
 * The publication lifecycle and flow teardown through the real admin and worker binaries:
 * `publication list`, `publication sync` (a DBOS workflow) picking up new tables whose rows then
 * reach DuckDB equal to the source, `slots list` showing flows and orphans, and `flow delete
 * -drop-slot -drop-publication` removing slot, publication, checkpoint and state records.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminJson, runAdmin } from '../support/admin';
import { queryDuckDbFile } from '../support/duckdbFile';
import { testFlow, writeFlowFile } from '../support/flows';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { runWorker } from '../support/worker';

let source: TestDatabase;
let state: TestDatabase;
let dir: string;
let duck: string;

const env = (): NodeJS.ProcessEnv => ({ DUCTSTREAM_POSTGRES_DSN: state.dsn });

async function runOnce(): Promise<void> {
  const r = await runWorker(['-flow-id', 'pubs', '-max-empty-reads', '1'], env());
  if (r.code !== 0) throw new Error(`worker exited ${r.code}: ${r.stderr.slice(-3000)}`);
}

async function published(): Promise<string[]> {
  const rows = await source.query<{ t: string }>(`SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = 'pubs_pub' ORDER BY 1`);
  return rows.map((r) => r.t);
}

async function expectEqual(table: string): Promise<void> {
  const src = await source.query(`SELECT id::text AS id, v FROM ${table} ORDER BY id`);
  const dst = await queryDuckDbFile(duck, `SELECT id::VARCHAR AS id, v FROM ${table} ORDER BY id`);
  expect(dst.length).toBeGreaterThan(0);
  expect(dst).toEqual(src);
}

beforeAll(async () => {
  source = await createTestDatabase('pubs_src');
  state = await createTestDatabase('pubs_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-pubs-'));
  duck = join(dir, 'pubs.duckdb');
  await source.query('CREATE TABLE public.a (id int PRIMARY KEY, v text)');
  await source.query('CREATE SCHEMA extra');
  const flowFile = writeFlowFile(
    dir,
    testFlow({
      id: 'pubs',
      sourceDsn: source.dsn,
      slot: 'pubs_slot',
      publication: 'pubs_pub',
      tables: ['public.a'],
      destinations: [{ name: 'warehouse', type: 'duckdb', options: { dsn: duck } }],
    }),
  );
  expect((await runWorker(['-flow-file', flowFile, '-max-empty-reads', '1'], env())).code).toBe(0);
  await source.query(`INSERT INTO public.a SELECT g, 'a' || g FROM generate_series(1, 10) g`);
  await runOnce();
  await expectEqual('public.a');
});

afterAll(async () => {
  await source.drop();
  await state.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('publication lifecycle', () => {
  it('bad input: no -schemas/-tables, both, an unknown -mode, an unknown table: one line, exit 2, nothing changed', async () => {
    await source.query('CREATE TABLE public.b (id int PRIMARY KEY, v text)');
    const cases: Array<[string[], string]> = [
      [['-mode', 'add'], 'flag -schemas: neither schemas nor tables is given'],
      [['-schemas', 'public', '-tables', 'public.b'], 'flag -tables'],
      [['-tables', 'public.b', '-mode', 'merge'], 'flag -mode: "merge" is not a sync mode'],
      [['-tables', 'public.nope'], 'flag -tables'],
    ];
    for (const [args, message] of cases) {
      const r = await runAdmin(['publication', 'sync', '-flow-id', 'pubs', ...args], env());
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(await published()).toEqual(['public.a']);
  });

  it('publication list shows the publication against the flow; sync -tables adds a table whose rows then arrive', async () => {
    const before = await adminJson<{ tables: Array<{ table: string; in_publication: boolean; in_flow: boolean }> }>(
      ['publication', 'list', '-flow-id', 'pubs'],
      env(),
    );
    expect(before.tables).toEqual([{ table: 'public.a', in_publication: true, in_flow: true }]);

    const r = await adminJson<{ added: string[]; paused: boolean; resumed: boolean }>(
      ['publication', 'sync', '-flow-id', 'pubs', '-tables', 'public.b', '-mode', 'add', '-pause', '-resume'],
      env(),
    );
    expect(r).toMatchObject({ added: ['public.b'], paused: true, resumed: true });
    expect(await published()).toEqual(['public.a', 'public.b']);
    const [flow] = await state.query<{ state: string; tables: string }>(
      `SELECT state, source->'options'->>'publication_tables' AS tables FROM ductstream.flows WHERE id = 'pubs'`,
    );
    expect(flow).toEqual({ state: 'running', tables: 'public.a,public.b' });

    await source.query(`INSERT INTO public.b SELECT g, 'b' || g FROM generate_series(1, 7) g`);
    await source.query(`INSERT INTO public.a VALUES (11, 'a11')`);
    await runOnce();
    await expectEqual('public.b');
    await expectEqual('public.a');
    const events = await adminJson<Array<{ table: string; kind: string; status: string }>>(['ddl', 'list', '-flow-id', 'pubs'], env());
    expect(events).toEqual([expect.objectContaining({ table: 'public.b', kind: 'new_table', status: 'applied' })]);
  });

  it('sync -schemas adds every table of a schema, and the new table is picked up', async () => {
    await source.query('CREATE TABLE extra.c (id int PRIMARY KEY, v text)');
    const r = await adminJson<{ added: string[] }>(['publication', 'sync', '-flow-id', 'pubs', '-schemas', 'extra'], env());
    expect(r.added).toEqual(['extra.c']);
    await source.query(`INSERT INTO extra.c SELECT g, 'c' || g FROM generate_series(1, 5) g`);
    await runOnce();
    await expectEqual('extra.c');
    const list = await adminJson<{ tables: Array<{ table: string; in_publication: boolean; in_flow: boolean }> }>(
      ['publication', 'list', '-flow-id', 'pubs'],
      env(),
    );
    expect(list.tables.find((t) => t.table === 'extra.c')).toEqual({ table: 'extra.c', in_publication: true, in_flow: true });
  });
});

describe('publication sync -snapshot', () => {
  it("backfills the added table's existing rows (the admin waits for the backfill), then the table streams", async () => {
    await source.query('CREATE TABLE public.s (id int PRIMARY KEY, v text)');
    // Rows older than the table's place in the publication: only the snapshot brings them.
    await source.query(`INSERT INTO public.s SELECT g, 's' || g FROM generate_series(1, 500) g`);
    const r = await runAdmin(['publication', 'sync', '-flow-id', 'pubs', '-tables', 'public.s', '-snapshot', '-json'], env());
    if (r.code !== 0) throw new Error(`admin exited ${r.code}: ${r.stderr.slice(-3000)}`);
    const out = JSON.parse(r.stdout) as { added: string[]; backfill_id: string };
    expect(out.added).toEqual(['public.s']);
    expect(out.backfill_id).toMatch(/^backfill-pubs-\d+$/);
    expect(r.stderr).toMatch(/backfill backfill-pubs-\d+ done: 500 rows/);
    await expectEqual('public.s');
    await source.query(`UPDATE public.s SET v = 'changed' WHERE id % 50 = 0`);
    await source.query(`DELETE FROM public.s WHERE id > 490`);
    await runOnce();
    await expectEqual('public.s');
  });
});

describe('teardown', () => {
  it('slots list shows the flow’s slot and an orphan; flow delete -drop-slot -drop-publication removes them all', async () => {
    await source.query(`SELECT pg_create_logical_replication_slot('orphan_slot', 'pgoutput')`);
    const listed = await adminJson<{ slots: Array<{ slot: string; flows: string[]; retained_wal_bytes: number; active: boolean }> }>(['slots', 'list'], env());
    expect(listed.slots.find((s) => s.slot === 'pubs_slot')).toMatchObject({ flows: ['pubs'], active: false });
    expect(listed.slots.find((s) => s.slot === 'orphan_slot')).toMatchObject({ flows: [] });
    const text = await runAdmin(['slots', 'list'], env());
    expect(text.stdout).toMatch(/orphan_slot\s+\(none: orphan\)/);

    const bad = await runAdmin(['flow', 'delete', '-flow-id', 'nope', '-drop-slot'], env());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('flag -flow-id: flow "nope" does not exist');

    const r = await adminJson<{ slotDropped: boolean; publicationDropped: boolean; stateRecordRemoved: boolean }>(
      ['flow', 'delete', '-flow-id', 'pubs', '-drop-slot', '-drop-publication'],
      env(),
    );
    expect(r).toMatchObject({ slotDropped: true, publicationDropped: true, stateRecordRemoved: true });
    expect(await source.query(`SELECT slot_name FROM pg_replication_slots WHERE slot_name = 'pubs_slot'`)).toEqual([]);
    expect(await source.query(`SELECT pubname FROM pg_publication WHERE pubname = 'pubs_pub'`)).toEqual([]);
    expect(await source.query(`SELECT flow_id FROM ductstream.source_state WHERE flow_id = 'pubs'`)).toEqual([]);
    expect(await state.query(`SELECT id FROM ductstream.flows WHERE id = 'pubs'`)).toEqual([]);
    expect(await state.query(`SELECT flow_id FROM ductstream.checkpoints WHERE flow_id = 'pubs'`)).toEqual([]);
    expect(await state.query(`SELECT id FROM ductstream.ddl_events WHERE flow_id = 'pubs'`)).toEqual([]);
    await source.query(`SELECT pg_drop_replication_slot('orphan_slot')`);
  });
});
