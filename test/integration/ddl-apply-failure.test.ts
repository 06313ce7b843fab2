/**
 * A schema change that a destination refuses for good (gate off): DuckDB cannot rebuild a table
 * with a new primary key over a column its rows hold as NULL (the column was added at the source
 * with a default, which the WAL does not carry to existing rows). The event is marked failed with
 * the destination's reason and only its table stops at the change; the worker ends normally and the
 * flow's other table goes on. After the destination rows are fixed by hand, `ddl apply` applies the
 * event again and the table resumes from the change's LSN. Everything is read back from the DuckDB
 * file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { adminJson, runAdmin } from '../support/admin';
import { queryDuckDbFile } from '../support/duckdbFile';
import { testFlow, writeFlowFile } from '../support/flows';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { runWorker, spawnBin, WORKER_BIN } from '../support/worker';

let source: TestDatabase;
let state: TestDatabase;
let dir: string;
let duck: string;

interface EventView {
  id: number;
  table: string;
  kind: string;
  status: string;
  reason: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const env = (): NodeJS.ProcessEnv => ({ DUCTSTREAM_POSTGRES_DSN: state.dsn });

async function runOnce(): Promise<string> {
  const r = await runWorker(['-flow-id', 'refused', '-max-empty-reads', '1'], env());
  if (r.code !== 0) throw new Error(`worker exited ${r.code}: ${r.stderr.slice(-3000)}`);
  return r.stderr;
}

async function table(name: string, where = 'true', cols = ['id', 'v']): Promise<{ src: unknown[]; dst: unknown[] }> {
  const src = await source.query(`SELECT ${cols.map((c) => `${c}::text AS ${c}`).join(', ')} FROM public.${name} WHERE ${where} ORDER BY id`);
  const dst = await queryDuckDbFile(duck, `SELECT ${cols.map((c) => `${c}::VARCHAR AS ${c}`).join(', ')} FROM public.${name} WHERE ${where} ORDER BY id`);
  return { src, dst };
}

async function events(): Promise<EventView[]> {
  return adminJson<EventView[]>(['ddl', 'list', '-flow-id', 'refused'], env());
}

beforeAll(async () => {
  source = await createTestDatabase('ddl_fail_src');
  state = await createTestDatabase('ddl_fail_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-ddl-fail-'));
  duck = join(dir, 'refused.duckdb');
  await source.query('CREATE TABLE public.items (id int PRIMARY KEY, v text)');
  await source.query('CREATE TABLE public.other (id int PRIMARY KEY, v text)');
  const flowFile = writeFlowFile(
    dir,
    testFlow({
      id: 'refused',
      sourceDsn: source.dsn,
      slot: 'refused_slot',
      publication: 'refused_pub',
      tables: ['public.items', 'public.other'],
      destinations: [{ name: 'warehouse', type: 'duckdb', options: { dsn: duck } }],
    }),
  );
  expect((await runWorker(['-flow-file', flowFile, '-max-empty-reads', '1'], env())).code).toBe(0);
  await source.query(`INSERT INTO public.items SELECT g, 'i' || g FROM generate_series(1, 20) g`);
  await source.query(`INSERT INTO public.other SELECT g, 'o' || g FROM generate_series(1, 20) g`);
  await runOnce();
  const { src, dst } = await table('items');
  expect(dst).toEqual(src);
});

afterAll(async () => {
  await source.drop();
  await state.drop();
  rmSync(dir, { recursive: true, force: true });
});

test('a change the destination refuses fails its event and stops only its table; the flow goes on', async () => {
  await source.query('ALTER TABLE public.items ADD COLUMN k int NOT NULL DEFAULT 0');
  await source.query(`INSERT INTO public.items VALUES (21, 'i21', 0)`);
  await runOnce();
  // DuckDB's rows 1-20 hold NULL in k: the source's default never reached them through the WAL.
  expect(await queryDuckDbFile(duck, 'SELECT count(*)::INT AS n FROM public.items WHERE k IS NULL')).toEqual([{ n: 20 }]);
  await source.query('ALTER TABLE public.items DROP CONSTRAINT items_pkey, ADD PRIMARY KEY (id, k)');
  await source.query(`INSERT INTO public.items SELECT g, 'i' || g, 0 FROM generate_series(22, 25) g`);
  await source.query(`INSERT INTO public.other SELECT g, 'o' || g FROM generate_series(21, 25) g`);
  const stderr = await runOnce();
  expect(stderr).toMatch(/schema change could not be applied/);
  const [ev] = (await events()).filter((e) => e.kind === 'key_change');
  expect(ev).toMatchObject({ table: 'public.items', status: 'failed' });
  expect(ev!.reason).toMatch(/destination "warehouse": DuckDB: .*NOT NULL constraint/);
  // The other table is delivered; items stops at the change (ids 22-25 are withheld, not lost).
  const other = await table('other');
  expect(other.dst).toEqual(other.src);
  expect((await table('items')).dst).toHaveLength(21);
  // A second run: still held, still not failing the flow, the other table still flowing.
  await source.query(`INSERT INTO public.other VALUES (26, 'o26')`);
  await source.query(`UPDATE public.items SET v = 'changed' WHERE id = 22`);
  await runOnce();
  const again = await table('other');
  expect(again.dst).toEqual(again.src);
  expect((await table('items')).dst).toHaveLength(21);
  const [flow] = await state.query<{ state: string }>(`SELECT state FROM ductstream.flows WHERE id = 'refused'`);
  expect(flow!.state).not.toBe('failed');
});

test('after the destination is fixed by hand, ddl apply resumes the table from the change with nothing lost', async () => {
  const [ev] = (await events()).filter((e) => e.kind === 'key_change');
  // The fix: give the destination rows the value the source holds.
  const db = await DuckDBInstance.create(duck);
  const conn = await db.connect();
  await conn.run('UPDATE public.items SET k = 0 WHERE k IS NULL');
  conn.closeSync();
  db.closeSync();
  const w = spawnBin(WORKER_BIN, ['-flow-id', 'refused'], env());
  try {
    await w.waitForStderr(/replication started/);
    const r = await runAdmin(['ddl', 'apply', '-id', String(ev!.id)], env());
    expect(r.code).toBe(0);
    const end = Date.now() + 60_000;
    while ((await state.query(`SELECT 1 FROM ductstream.ddl_events WHERE id = $1 AND status = 'applied'`, [ev!.id])).length === 0) {
      if (Date.now() > end) throw new Error('event not applied');
      await sleep(250);
    }
    await sleep(3000); // release check and reread
  } finally {
    w.child.kill('SIGINT');
    await w.exited;
  }
  await runOnce();
  const resumed = await table('items', 'true', ['id', 'k', 'v']);
  expect(resumed.dst).toEqual(resumed.src);
  expect(resumed.dst).toHaveLength(25);
  const key = await queryDuckDbFile(
    duck,
    `SELECT unnest(constraint_column_names) AS c FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY' AND table_name = 'items'`,
  );
  expect(key).toEqual([{ c: 'id' }, { c: 'k' }]);
});
