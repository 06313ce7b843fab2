/**
 * Schema changes with the DDL gate off (the default): the worker binary detects each change from
 * the Relation messages against the persisted baseline, applies the compatible ones to the DuckDB
 * table at once, and the table reads back equal to the source. Every phase is a separate worker
 * run, so each also proves that a restart between the DDL and the next row loses nothing and
 * announces nothing twice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminJson, runAdmin } from '../support/admin';
import { queryDuckDbFile } from '../support/duckdbFile';
import { testFlow, writeFlowFile } from '../support/flows';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { runWorker, spawnBin, WORKER_BIN } from '../support/worker';

let source: TestDatabase;
let state: TestDatabase;
let dir: string;
let duck: string;
let dropDuck: string;

interface EventView {
  id: number;
  table: string;
  kind: string;
  status: string;
  new_columns: Array<{ name: string; type: string }>;
}

const env = (): NodeJS.ProcessEnv => ({ DUCTSTREAM_POSTGRES_DSN: state.dsn });

async function run(): Promise<void> {
  const r = await runWorker(['-flow-id', 'evolve', '-max-empty-reads', '1'], env());
  if (r.code !== 0) throw new Error(`worker exited ${r.code}: ${r.stderr.slice(-3000)}`);
}

async function duckColumns(file: string): Promise<Array<[string, string]>> {
  const rows = await queryDuckDbFile(
    file,
    `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'items' ORDER BY ordinal_position`,
  );
  return rows.map((r) => [String(r.column_name), String(r.data_type)]);
}

/** Rows of `cols` as text, ordered by id, from both sides. */
async function compare(cols: string[], file = duck): Promise<void> {
  const src = await source.query(`SELECT ${cols.map((c) => `${c}::text AS ${c}`).join(', ')} FROM public.items ORDER BY id`);
  const dst = await queryDuckDbFile(file, `SELECT ${cols.map((c) => `${c}::VARCHAR AS ${c}`).join(', ')} FROM public.items ORDER BY id`);
  expect(dst).toEqual(src);
  expect(dst.length).toBeGreaterThan(0);
}

async function events(): Promise<EventView[]> {
  return adminJson<EventView[]>(['ddl', 'list', '-flow-id', 'evolve'], env());
}

beforeAll(async () => {
  source = await createTestDatabase('ddl_off_src');
  state = await createTestDatabase('ddl_off_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-ddl-off-'));
  duck = join(dir, 'keep.duckdb');
  dropDuck = join(dir, 'drop.duckdb');
  await source.query('CREATE TABLE public.items (id int PRIMARY KEY, qty int, note text, old text)');
  await source.query('CREATE TABLE public.gone (id int PRIMARY KEY)');
  const flowFile = writeFlowFile(
    dir,
    testFlow({
      id: 'evolve',
      sourceDsn: source.dsn,
      slot: 'evolve_slot',
      publication: 'evolve_pub',
      tables: ['public.items', 'public.gone'],
      destinations: [
        { name: 'keep', type: 'duckdb', options: { dsn: duck } },
        { name: 'drop', type: 'duckdb', options: { dsn: dropDuck, ddl_drop_columns: 'true' } },
      ],
    }),
  );
  const r = await runWorker(['-flow-file', flowFile, '-max-empty-reads', '1'], env());
  expect(r.code).toBe(0);
  await source.query(`INSERT INTO public.items SELECT g, g, 'n' || g, 'o' || g FROM generate_series(1, 50) g`);
  await source.query(`INSERT INTO public.gone VALUES (1)`);
  await run();
  await compare(['id', 'qty', 'note', 'old']);
});

afterAll(async () => {
  await source.drop();
  await state.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('DDL gate off', () => {
  it('adds a column: the restart between the DDL and its next row loses nothing, and the change is announced once', async () => {
    await source.query('ALTER TABLE public.items ADD COLUMN price numeric(12,2)');
    await run(); // no row yet: nothing to see
    await source.query(`INSERT INTO public.items VALUES (51, 51, 'n51', 'o51', 5.25)`);
    await source.query(`UPDATE public.items SET price = id * 1.5 WHERE id <= 10`);
    await run();
    await run(); // a replay-free restart must not re-announce
    expect((await duckColumns(duck)).map(([n]) => n)).toEqual(['id', 'qty', 'note', 'old', 'price']);
    await compare(['id', 'qty', 'note', 'old', 'price']);
    const ev = (await events()).filter((e) => e.kind === 'add_column');
    expect(ev).toHaveLength(1);
    expect(ev[0]).toMatchObject({ table: 'public.items', status: 'applied' });
    expect(ev[0]!.new_columns.map((c) => c.name)).toContain('price');
  });

  it('widens a type in place and follows a rename by attnum (values kept under the new name)', async () => {
    await source.query('ALTER TABLE public.items ALTER COLUMN qty TYPE bigint');
    await source.query('ALTER TABLE public.items RENAME COLUMN note TO label');
    await source.query(`UPDATE public.items SET qty = qty + 5000000000 WHERE id % 2 = 0`);
    await run();
    const cols = new Map(await duckColumns(duck));
    expect(cols.get('qty')).toBe('BIGINT');
    expect(cols.has('label')).toBe(true);
    expect(cols.has('note')).toBe(false);
    await compare(['id', 'qty', 'label', 'old', 'price']);
    const kinds = (await events()).map((e) => e.kind.split(',').sort().join(','));
    expect(kinds).toContain('rename_column,retype_column');
  });

  it('a dropped column is kept with NULLs by default and dropped with ddl_drop_columns=true', async () => {
    await source.query('ALTER TABLE public.items DROP COLUMN old');
    await source.query(`INSERT INTO public.items VALUES (52, 52, 'n52', 1.00)`);
    await run();
    await compare(['id', 'qty', 'label', 'price']);
    await compare(['id', 'qty', 'label', 'price'], dropDuck);
    expect((await duckColumns(duck)).map(([n]) => n)).toContain('old');
    expect((await duckColumns(dropDuck)).map(([n]) => n)).not.toContain('old');
    const kept = await queryDuckDbFile(duck, `SELECT id, old FROM public.items WHERE id IN (1, 52) ORDER BY id`);
    expect(kept).toEqual([
      { id: 1, old: 'o1' },
      { id: 52, old: null },
    ]);
  });

  it('a DDL in the same transaction as data: rows before and after it arrive with their own shapes', async () => {
    await source.query(`BEGIN;
      INSERT INTO public.items VALUES (60, 60, 'before', 6.00);
      ALTER TABLE public.items ADD COLUMN tag text;
      INSERT INTO public.items VALUES (61, 61, 'after', 6.10, 'tagged');
      UPDATE public.items SET tag = 'x' || id WHERE id < 5;
      COMMIT`);
    await run();
    await compare(['id', 'qty', 'label', 'price', 'tag']);
  });

  it('with the event trigger installed, events carry the DDL text and a DROP TABLE is known at its LSN', async () => {
    const bad = await runAdmin(['ddl', 'install-trigger'], env());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('flag -flow-id: is required');
    const r = await runAdmin(['ddl', 'install-trigger', '-flow-id', 'evolve'], env());
    expect(r.code).toBe(0);
    // While the worker streams, so the DROP reaches it in the stream (not at its next start).
    const w = spawnBin(WORKER_BIN, ['-flow-id', 'evolve'], env());
    await w.waitForStderr(/replication started/);
    await source.query('ALTER TABLE public.items ADD COLUMN shipped boolean');
    await source.query(`UPDATE public.items SET shipped = id % 2 = 0 WHERE id <= 20`);
    await source.query('DROP TABLE public.gone');
    await w.waitForStderr(/schema change detected.*drop_table/);
    w.child.kill('SIGINT');
    expect((await w.exited).code).toBe(0);
    await run();
    await compare(['id', 'qty', 'label', 'price', 'tag', 'shipped']);
    const all = await adminJson<Array<{ table: string; kind: string; ddl: string; status: string }>>(['ddl', 'list', '-flow-id', 'evolve'], env());
    expect(all.find((e) => e.kind === 'add_column' && e.ddl.includes('shipped'))).toMatchObject({
      ddl: 'ALTER TABLE public.items ADD COLUMN shipped boolean',
      status: 'applied',
    });
    expect(all.find((e) => e.kind === 'drop_table')).toMatchObject({ table: 'public.gone', ddl: 'DROP TABLE public.gone', status: 'applied' });
    expect(all.filter((e) => e.kind === 'drop_table')).toHaveLength(1);
  });
});
