/**
 * Backfill chunks loaded into DuckDB as CSV files (`COPY … (FORMAT csv)` → `read_csv`), through the
 * worker binary: a table with every type the CSV path takes, holding NULLs, quotes, commas,
 * newlines, backslashes, unicode, empty strings next to NULLs, NaN and infinities, is backfilled by
 * a flow on the CSV path and by a flow with `backfill_csv=false` (decoded rows); both DuckDB files
 * hold exactly the source's rows, value for value. A row with a BC date is read on the CSV path too:
 * DuckDB's reader would take it as AD, so its chunk is refused and written as decoded rows instead.
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

const COLUMNS = `id bigint PRIMARY KEY, i2 smallint, i4 int, b bool, f4 real, f8 float8, n numeric(20,6), nu numeric, t text,
  vc varchar(20), c char(5), u uuid, j json, jb jsonb, d date, ts timestamp, tz timestamptz`;

/** Rows 1..8: the hard values; 9..3000: ordinary rows, so the table spans several chunks. */
const HARD_ROWS = `
  (1, 1, 1, true, 1.1, 0.1, 12345678901234.123456, 1e-20, 'plain', 'v', 'ab', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
   '{"a": 1,  "b": [1, 2]}', '{"b": [1, 2], "a": 1}', '2024-02-29', '2024-02-29 23:59:59.999999', '2024-01-02 03:04:05.123456+05:30'),
  (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (3, -32768, -2147483648, false, 'NaN', 'Infinity', -0.000001, 'NaN', '', '', '', '00000000-0000-0000-0000-000000000000',
   'null', '"s"', 'infinity', '-infinity', 'infinity'),
  (4, 32767, 2147483647, true, '-Infinity', '-Infinity', 99999999999999.999999, 123456789012345678901234567890.123456789,
   E'quote " comma , newline \\n cr \\r tab \\t backslash \\\\ end', E'a\\\\N', ' x ', NULL,
   E'{"k": "line\\\\nbreak \\\\" q"}', '[]', '1970-01-01', '1970-01-01 00:00:00', '1970-01-01 00:00:00+00'),
  (5, 0, 0, false, 3.4028235e38, 1.7976931348623157e308, 0, 0, 'unicode é ß 中文 😀 \u00a0', '\\N', 'NULL', NULL,
   '{}', '{"nested": {"x": [null, true, 1.5e300]}}', '9999-12-31', '2262-04-11 23:47:16.854775', '1900-01-01 00:00:00-08'),
  (6, 1, 1, true, 1e-45, 5e-324, 0.5, -1, '"', ',', '"', NULL, NULL, NULL, '0001-01-01', '0001-01-01 00:00:00', '0001-01-01 00:00:00+00'),
  (7, 2, 2, false, -0, -0, -0.5, 10, E'\\n', E'\\r\\n', '   ', NULL, NULL, NULL, '12345-06-07', '2000-01-01 12:00:00.5', '2000-06-15 12:00:00.000001+02')`;

beforeAll(async () => {
  [source, state] = await Promise.all([createTestDatabase('bfcsv_src'), createTestDatabase('bfcsv_state')]);
  dir = mkdtempSync(join(tmpdir(), 'ductstream-bfcsv-'));
  await source.query(`CREATE TABLE public.items (${COLUMNS})`);
  await source.query(`INSERT INTO public.items VALUES ${HARD_ROWS}`);
  await source.query(
    `INSERT INTO public.items SELECT g, g % 100, g, g % 2 = 0, g / 7.0, g / 3.0, g / 9.0, g, 'item ' || g, 'v' || g, 'c', md5(g::text)::uuid,
       json_build_object('g', g), jsonb_build_object('g', g), date '2000-01-01' + g, timestamp '2000-01-01' + g * interval '1 minute',
       timestamptz '2000-01-01 00:00:00+00' + g * interval '1 second' FROM generate_series(9, 3000) g`,
  );
  // DuckDB's CSV reader would take it as AD: its chunk falls back to decoded rows.
  await source.query(`INSERT INTO public.items (id, d, t) VALUES (8, '0044-03-15 BC', 'bc')`);
  await source.query('ANALYZE public.items');
}, 120_000);

afterAll(async () => {
  await Promise.allSettled([source?.drop(), state?.drop()]);
  rmSync(dir, { recursive: true, force: true });
});

/** Every column as text, as DuckDB and PostgreSQL print them differently only in form: compared through normalized text. */
const DUCK_SELECT = `SELECT id::VARCHAR AS id, i2::VARCHAR AS i2, i4::VARCHAR AS i4, b::VARCHAR AS b, f4::VARCHAR AS f4, f8::VARCHAR AS f8,
  n::VARCHAR AS n, nu, t, vc, c, u::VARCHAR AS u, j::VARCHAR AS j, jb::VARCHAR AS jb, d::VARCHAR AS d, ts::VARCHAR AS ts,
  epoch_us(tz)::VARCHAR AS tz, tz::VARCHAR AS tztext FROM public.items ORDER BY id`;

async function backfill(id: string, csv: boolean): Promise<{ file: string; stderr: string }> {
  const file = join(dir, `${id}.duckdb`);
  const flow = writeFlowFile(
    dir,
    testFlow({
      id,
      sourceDsn: source.dsn,
      slot: `${id}_slot`,
      publication: `${id}_pub`,
      tables: ['public.items'],
      destinations: [{ name: 'duck', type: 'duckdb', options: { dsn: file, backfill_csv: String(csv) } }],
    }),
  );
  // 100-row chunks (600 on the CSV path): several chunks per table.
  const env = { DUCTSTREAM_POSTGRES_DSN: state.dsn, DUCTSTREAM_BACKFILL_CHUNK_ROWS: '100', DUCTSTREAM_LOG_LEVEL: 'info' };
  const stored = await runWorker(['-flow-file', flow, '-max-empty-reads', '1'], env, 180_000);
  expect(stored.code).toBe(0);
  const run = await runWorker(['-flow-id', id, '-mode', 'backfill', '-tables', 'public.items'], env, 300_000);
  expect(run.stderr).toMatch(/public\.items: 3000\/\d+ rows/);
  expect(run.code).toBe(0);
  return { file, stderr: run.stderr };
}

it('a backfill through CSV files gives DuckDB exactly the source rows, the same as decoded rows do', async () => {
  const csv = await backfill('bfcsv', true);
  const rows = await backfill('bfrows', false);
  expect(csv.stderr).toMatch(/backfill chunks load as CSV files/);
  expect(rows.stderr).toMatch(/backfill chunks load as decoded rows.*backfill_csv is false/);

  const viaCsv = await queryDuckDbFile(csv.file, DUCK_SELECT);
  const viaRows = await queryDuckDbFile(rows.file, DUCK_SELECT);
  expect(viaCsv).toHaveLength(3000);
  expect(viaCsv).toEqual(viaRows);

  // Against the source itself: exact text of the text columns, NULL vs empty, numbers and instants.
  const src = await source.query<Record<string, string | null>>(
    `SELECT id::text AS id, n::text AS n, nu::text AS nu, t, vc, c, u::text AS u, j::text AS j, jb::text AS jb, d::text AS d,
       (extract(epoch FROM tz) * 1000000)::numeric(30,0)::text AS tz, b::text AS b FROM public.items WHERE tz IS NULL OR tz::text NOT LIKE '%infinity' ORDER BY id`,
  );
  const byId = new Map(viaCsv.map((r) => [String(r.id), r]));
  for (const s of src) {
    const d = byId.get(s.id!)!;
    expect({ id: s.id, t: d.t, vc: d.vc, c: d.c, nu: d.nu, j: d.j, jb: d.jb, u: d.u, tz: d.tz, b: d.b }).toEqual({
      id: s.id,
      t: s.t,
      vc: s.vc,
      c: s.c,
      nu: s.nu,
      j: s.j,
      jb: s.jb,
      u: s.u,
      tz: s.tz,
      b: s.b === null ? null : String(s.b === 'true'),
    });
    if (s.n !== null) expect(d.n).toBe(s.n);
  }
  const hard = (id: string) => byId.get(id)!;
  expect(hard('2')).toEqual({ ...Object.fromEntries(Object.keys(hard('2')).map((k) => [k, null])), id: '2' });
  expect([hard('3').t, hard('3').vc, hard('3').c]).toEqual(['', '', '     ']);
  expect([hard('3').f4, hard('3').f8, hard('3').d, hard('3').ts]).toEqual(['nan', 'inf', 'infinity', '-infinity']);
  expect(hard('4').t).toBe('quote " comma , newline \n cr \r tab \t backslash \\ end');
  expect(hard('5').t).toBe('unicode é ß 中文 😀 \u00a0');
  expect([hard('5').vc, hard('5').c]).toEqual(['\\N', 'NULL ']);
  expect(hard('8').d).toBe('0044-03-15 (BC)');
  // The BC date's chunk went the decoded way.
  expect(csv.stderr).toMatch(/did not load from its CSV file/);
}, 600_000);
