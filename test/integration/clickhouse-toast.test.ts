/**
 * ClickHouse and unchanged TOAST values of rows it does not hold: real private PostgreSQL, the
 * worker binary, a real ClickHouse (chdb). Rows that existed before the flow started are updated
 * without touching their 1 MB column; ClickHouse must end with the source's value, never NULL,
 * in both apply modes (versioned and mutations).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testFlow, writeFlowFile } from '../support/flows';
import { startClickhouseServer, type ClickhouseServer } from '../support/peers/clickhouseServer';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { runWorker } from '../support/worker';

let source: TestDatabase;
let state: TestDatabase;
let server: ClickhouseServer;
let dir: string;

const env = (): NodeJS.ProcessEnv => ({ DUCTSTREAM_POSTGRES_DSN: state.dsn });

async function run(): Promise<void> {
  const r = await runWorker(['-flow-id', 'chtoast', '-max-empty-reads', '1'], env());
  if (r.code !== 0) console.log(r.stderr);
  expect(r.code).toBe(0);
}

type DocRow = {
  id: string;
  v: string;
  len: string | null;
  md5: string | null;
};

async function sourceDocs(): Promise<DocRow[]> {
  return source.query<DocRow>(`SELECT id::text AS id, v, length(big)::text AS len, md5(big) AS md5 FROM public.docs ORDER BY id`);
}

async function clickhouseDocs(database: string, final: string): Promise<DocRow[]> {
  const rows = await server.rows<{ id: number | string; v: string; len: number | string | null; md5: string | null }>(
    `SELECT id, v, length(big) AS len, if(big IS NULL, NULL, lower(hex(MD5(big)))) AS md5 FROM ${database}.docs ${final} ORDER BY id`,
  );
  return rows.map((r) => ({ id: String(r.id), v: r.v, len: r.len === null ? null : String(r.len), md5: r.md5 }));
}

beforeAll(async () => {
  server = await startClickhouseServer();
  source = await createTestDatabase('chtoast_src');
  state = await createTestDatabase('chtoast_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-chtoast-'));
  await source.query(`CREATE TABLE public.docs (id int PRIMARY KEY, v text, big text)`);
  // Rows that exist before the flow starts: ClickHouse never receives them by insert.
  await source.query(`INSERT INTO public.docs SELECT g, 'doc ' || g, (SELECT string_agg(md5(g::text || s::text), '') FROM generate_series(1, 32768) s)
                        FROM generate_series(1, 4) g`);
  const flow = testFlow({
    id: 'chtoast',
    sourceDsn: source.dsn,
    slot: 'chtoast_slot',
    publication: 'chtoast_pub',
    tables: ['public.docs'],
    destinations: [
      { name: 'versioned', type: 'clickhouse', options: { dsn: server.dsn, database: 'toast_v' } },
      { name: 'mutations', type: 'clickhouse', options: { dsn: server.dsn, database: 'toast_m', apply_mode: 'mutations' } },
    ],
    sourceOptions: { batch_size: '1000' },
  });
  const first = await runWorker(['-flow-file', writeFlowFile(dir, flow), '-max-empty-reads', '1'], env());
  if (first.code !== 0) console.log(first.stderr);
  expect(first.code).toBe(0);
}, 180_000);

afterAll(async () => {
  await source?.drop();
  await state?.drop();
  await server?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('reads the 1 MB column from the source instead of writing NULL (also across a key change; a row gone from the source is left out)', async () => {
  await source.query(`UPDATE public.docs SET v = 'retitled' WHERE id = 1`);
  await source.query(`UPDATE public.docs SET id = 20, v = 'moved' WHERE id = 2`);
  await source.query(`BEGIN; UPDATE public.docs SET v = 'then deleted' WHERE id = 3; DELETE FROM public.docs WHERE id = 3; COMMIT`);
  await run();
  const expected = (await sourceDocs()).filter((r) => r.id !== '4');
  expect(expected.map((r) => r.id)).toEqual(['1', '20']);
  expect(expected.every((r) => r.len === String(32 * 32768))).toBe(true);
  expect(await clickhouseDocs('toast_v', 'FINAL')).toEqual(expected);
  expect(await clickhouseDocs('toast_m', '')).toEqual(expected);
}, 180_000);
