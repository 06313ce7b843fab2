/**
 * Unchanged TOAST values of rows the destination does not hold: real private PostgreSQL, the worker
 * binary, a real ClickHouse (chdb) in both apply modes (versioned and mutations) and Snowflake
 * through the real snowflake-sdk against the Snowflake stand-in (no Snowflake runs here). Rows
 * that existed before the flow started are updated without touching their 1 MB column; every
 * destination must end with the source's value, never NULL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testFlow, writeFlowFile } from '../support/flows';
import { startClickhouseServer, type ClickhouseServer } from '../support/peers/clickhouseServer';
import { SnowflakeStandIn } from '../support/peers/snowflake/standIn';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { runWorker } from '../support/worker';

let source: TestDatabase;
let state: TestDatabase;
let server: ClickhouseServer;
let standIn: SnowflakeStandIn;
let dir: string;
/** The source's rows after the changes, less the row no change touched (no destination holds it). */
let expected: DocRow[];

const env = (): NodeJS.ProcessEnv => ({ DUCTSTREAM_POSTGRES_DSN: state.dsn });

async function run(args: string[]): Promise<void> {
  const r = await runWorker([...args, '-max-empty-reads', '1'], env(), 300_000);
  if (r.code !== 0) console.log(r.stderr);
  expect(r.code).toBe(0);
}

type DocRow = {
  id: string;
  v: string;
  len: string | null;
  md5: string | null;
};

const text = (v: unknown): string | null => (v === null || typeof v === 'string' ? v : (v as number | bigint).toString());
const docRow = (r: Record<string, unknown>): DocRow => ({ id: text(r.id)!, v: text(r.v)!, len: text(r.len), md5: text(r.md5) });

async function clickhouseDocs(database: string, final: string): Promise<DocRow[]> {
  const rows = await server.rows(
    `SELECT id, v, length(big) AS len, if(big IS NULL, NULL, lower(hex(MD5(big)))) AS md5 FROM ${database}.docs ${final} ORDER BY id`,
  );
  return rows.map(docRow);
}

async function snowflakeDocs(schema: string): Promise<DocRow[]> {
  const rows = await standIn.query(
    `SELECT CAST(id AS VARCHAR) AS id, v, CAST(length(big) AS VARCHAR) AS len, md5(big) AS md5 FROM "${schema}"."docs" ORDER BY id`,
  );
  return rows.map(docRow);
}

beforeAll(async () => {
  [server, standIn, source, state] = await Promise.all([
    startClickhouseServer(),
    SnowflakeStandIn.start(),
    createTestDatabase('whtoast_src'),
    createTestDatabase('whtoast_state'),
  ]);
  dir = mkdtempSync(join(tmpdir(), 'ductstream-whtoast-'));
  await source.query(`CREATE TABLE public.docs (id int PRIMARY KEY, v text, big text)`);
  // Rows that exist before the flow starts: no destination ever receives them by insert.
  await source.query(`INSERT INTO public.docs SELECT g, 'doc ' || g, (SELECT string_agg(md5(g::text || s::text), '') FROM generate_series(1, 32768) s)
                        FROM generate_series(1, 4) g`);
  const flow = testFlow({
    id: 'whtoast',
    sourceDsn: source.dsn,
    slot: 'whtoast_slot',
    publication: 'whtoast_pub',
    tables: ['public.docs'],
    destinations: [
      { name: 'versioned', type: 'clickhouse', options: { dsn: server.dsn, database: 'toast_v' } },
      { name: 'mutations', type: 'clickhouse', options: { dsn: server.dsn, database: 'toast_m', apply_mode: 'mutations' } },
      { name: 'sf', type: 'snowflake', options: { dsn: standIn.dsn(), schema: 'toast_sf' } },
    ],
    sourceOptions: { batch_size: '1000' },
  });
  await run(['-flow-file', writeFlowFile(dir, flow)]);
  // An update of another column, a key change, and an update of a row deleted later in the stream.
  await source.query(`UPDATE public.docs SET v = 'retitled' WHERE id = 1`);
  await source.query(`UPDATE public.docs SET id = 20, v = 'moved' WHERE id = 2`);
  await source.query(`BEGIN; UPDATE public.docs SET v = 'then deleted' WHERE id = 3; DELETE FROM public.docs WHERE id = 3; COMMIT`);
  await run(['-flow-id', 'whtoast']);
  expected = (await source.query<DocRow>(`SELECT id::text AS id, v, length(big)::text AS len, md5(big) AS md5 FROM public.docs ORDER BY id`)).filter(
    (r) => r.id !== '4',
  );
  expect(expected.map((r) => r.id)).toEqual(['1', '20']);
  expect(expected.every((r) => r.len === String(32 * 32768))).toBe(true);
}, 600_000);

afterAll(async () => {
  await Promise.allSettled([source?.drop(), state?.drop(), server?.dispose(), standIn?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the 1 MB column of a row the destination lacks is read from the source, never NULL (also across a key change; a row gone from the source is left out)', () => {
  test('ClickHouse, versioned (read with FINAL)', async () => {
    expect(await clickhouseDocs('toast_v', 'FINAL')).toEqual(expected);
  });

  test('ClickHouse, mutations', async () => {
    expect(await clickhouseDocs('toast_m', '')).toEqual(expected);
  });

  test('Snowflake (stand-in, real snowflake-sdk)', async () => {
    expect(await snowflakeDocs('toast_sf')).toEqual(expected);
  });
});
