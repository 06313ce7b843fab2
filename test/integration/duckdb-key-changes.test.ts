/**
 * Key changes and unchanged TOAST values end to end: real private PostgreSQL, the worker binary,
 * a real DuckDB file. After each run the DuckDB table must equal the source table.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryDuckDbFile } from '../support/duckdbFile';
import { testFlow, writeFlowFile } from '../support/flows';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { runWorker } from '../support/worker';

let source: TestDatabase;
let state: TestDatabase;
let dir: string;
const duck = (): string => join(dir, 'keys.duckdb');

const env = (): NodeJS.ProcessEnv => ({ DUCTSTREAM_POSTGRES_DSN: state.dsn });

async function run(): Promise<void> {
  const r = await runWorker(['-flow-id', 'keys', '-max-empty-reads', '1'], env());
  if (r.code !== 0) console.log(r.stderr);
  expect(r.code).toBe(0);
}

/** id, v, and length + md5 of the large column: equal text in both databases for equal rows. */
async function sourceTable(name: string): Promise<unknown[]> {
  return source.query(`SELECT id::text AS id, v, length(big)::text AS len, md5(big) AS md5 FROM public.${name} ORDER BY id`);
}
async function destinationTable(name: string): Promise<unknown[]> {
  return queryDuckDbFile(duck(), `SELECT id::VARCHAR AS id, v, length(big)::VARCHAR AS len, md5(big) AS md5 FROM public.${name} ORDER BY id`);
}

beforeAll(async () => {
  source = await createTestDatabase('keys_src');
  state = await createTestDatabase('keys_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-keys-'));
  // A DEFERRABLE key cannot be the replica identity: such a table publishes updates only with FULL.
  await source.query(`CREATE TABLE public.swaps (id int PRIMARY KEY DEFERRABLE INITIALLY IMMEDIATE, v text, big text)`);
  await source.query(`ALTER TABLE public.swaps REPLICA IDENTITY FULL`);
  await source.query(`CREATE TABLE public.docs (id int PRIMARY KEY, v text, big text)`);
  // Rows that exist before the flow starts: the destination never receives them by insert.
  await source.query(`INSERT INTO public.docs SELECT g, 'doc ' || g, (SELECT string_agg(md5(g::text || s::text), '') FROM generate_series(1, 32768) s)
                        FROM generate_series(1, 4) g`);
  const flow = testFlow({
    id: 'keys',
    sourceDsn: source.dsn,
    slot: 'keys_slot',
    publication: 'keys_pub',
    tables: ['public.swaps', 'public.docs'],
    destinations: [{ name: 'warehouse', type: 'duckdb', options: { dsn: duck() } }],
    sourceOptions: { batch_size: '1000' },
  });
  const first = await runWorker(['-flow-file', writeFlowFile(dir, flow), '-max-empty-reads', '1'], env());
  expect(first.code).toBe(0);
}, 120_000);

afterAll(async () => {
  await source.drop();
  await state.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('DuckDB: primary key changes inside one batch (DEFERRABLE key)', () => {
  it('a swap, a cycle of three and a key moved and moved back in one transaction end equal to the source', async () => {
    await source.query(`INSERT INTO public.swaps SELECT g, 'v' || g, repeat('b' || g, 3000) FROM generate_series(1, 8) g`);
    await run();
    expect(await destinationTable('swaps')).toEqual(await sourceTable('swaps'));

    await source.query(`BEGIN;
      UPDATE public.swaps SET id = CASE id WHEN 1 THEN 2 WHEN 2 THEN 1 END, v = v || '-swapped' WHERE id IN (1, 2);
      UPDATE public.swaps SET id = CASE id WHEN 3 THEN 4 WHEN 4 THEN 5 WHEN 5 THEN 3 END WHERE id IN (3, 4, 5);
      UPDATE public.swaps SET id = 60, v = 'away' WHERE id = 6;
      UPDATE public.swaps SET id = 6, v = 'back' WHERE id = 60;
      COMMIT`);
    await source.query(`UPDATE public.swaps SET id = CASE id WHEN 7 THEN 8 WHEN 8 THEN 7 END WHERE id IN (7, 8)`);
    await run();
    const expected = await sourceTable('swaps');
    expect(expected).toHaveLength(8);
    expect(await destinationTable('swaps')).toEqual(expected);
  }, 120_000);
});

describe('DuckDB: unchanged TOAST values of rows the destination does not hold', () => {
  it('reads the 1 MB column from the source instead of writing NULL (also across a key change)', async () => {
    await source.query(`UPDATE public.docs SET v = 'retitled' WHERE id = 1`);
    await source.query(`UPDATE public.docs SET id = 20, v = 'moved' WHERE id = 2`);
    await source.query(`BEGIN; UPDATE public.docs SET v = 'then deleted' WHERE id = 3; DELETE FROM public.docs WHERE id = 3; COMMIT`);
    await run();
    const back = (await destinationTable('docs')) as Array<{ id: string; len: string | null }>;
    expect(back.map((r) => r.id)).toEqual(['1', '20']);
    expect(back.every((r) => r.len === String(32 * 32768))).toBe(true);
    const src = (await sourceTable('docs')) as Array<{ id: string }>;
    expect(back).toEqual(src.filter((r) => r.id !== '4'));
  }, 120_000);
});
