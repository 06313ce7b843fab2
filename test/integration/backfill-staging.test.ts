/**
 * Backfill into staging through the real worker binary (`-mode backfill`), a real PostgreSQL and a
 * DuckDB file with `batch_mode=staging`: rows land in `<table>_staging` and the target stays
 * untouched; `-resolve-staging` moves them in; `-resync` reloads and replaces the target, so rows
 * deleted at the source while nothing tracked them are gone.
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
let duck: string;

const env = (): NodeJS.ProcessEnv => ({ DUCTSTREAM_POSTGRES_DSN: state.dsn });

async function backfill(...flags: string[]): Promise<string> {
  const r = await runWorker(['-flow-id', 'bfstage', '-mode', 'backfill', '-tables', 'public.items', ...flags], env(), 180_000);
  if (r.code !== 0) throw new Error(`worker exited ${r.code}: ${r.stderr.slice(-3000)}`);
  return r.stderr;
}

async function sourceRows(): Promise<unknown[]> {
  return source.query(`SELECT id::text AS id, v FROM public.items ORDER BY id`);
}

async function duckRows(table: string): Promise<unknown[]> {
  const exists = await queryDuckDbFile(
    duck,
    `SELECT count(*)::INT AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name = '${table}'`,
  );
  if ((exists[0] as { n: number }).n === 0) return [];
  return queryDuckDbFile(duck, `SELECT id::VARCHAR AS id, v FROM public.${table} ORDER BY id`);
}

beforeAll(async () => {
  source = await createTestDatabase('bfstage_src');
  state = await createTestDatabase('bfstage_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-bfstage-'));
  duck = join(dir, 'stage.duckdb');
  await source.query('CREATE TABLE public.items (id int PRIMARY KEY, v text)');
  await source.query(`INSERT INTO public.items SELECT g, 'v' || g FROM generate_series(1, 1000) g`);
  const file = writeFlowFile(
    dir,
    testFlow({
      id: 'bfstage',
      sourceDsn: source.dsn,
      slot: 'bfstage_slot',
      publication: 'bfstage_pub',
      tables: ['public.items'],
      destinations: [{ name: 'warehouse', type: 'duckdb', options: { dsn: duck, batch_mode: 'staging' } }],
    }),
  );
  // Stores the flow and creates its slot and publication.
  const r = await runWorker(['-flow-file', file, '-max-empty-reads', '1'], env());
  if (r.code !== 0) throw new Error(`worker exited ${r.code}: ${r.stderr.slice(-3000)}`);
}, 120_000);

afterAll(async () => {
  await source?.drop();
  await state?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('batch_mode=staging: the backfill fills items_staging only; -resolve-staging moves it into items', async () => {
  await backfill();
  const src = await sourceRows();
  expect(src).toHaveLength(1000);
  expect(await duckRows('items_staging')).toEqual(src);
  expect(await duckRows('items')).toEqual([]);

  await backfill('-resolve-staging');
  expect(await duckRows('items')).toEqual(src);
}, 240_000);

test('-resync reloads into staging and replaces the target: rows deleted at the source meanwhile are gone', async () => {
  await source.query(`DELETE FROM public.items WHERE id % 10 = 0`);
  await source.query(`UPDATE public.items SET v = 'changed' WHERE id % 7 = 0`);
  await backfill('-resync');
  const src = await sourceRows();
  expect(src).toHaveLength(900);
  expect(await duckRows('items')).toEqual(src);
}, 240_000);
