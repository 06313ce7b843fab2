/**
 * The worker binary end to end: real private PostgreSQL, real DBOS, a real DuckDB file. Each
 * phase changes the source, runs `./bin/ductstream-worker` and compares the DuckDB table with the
 * source table row for row.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryDuckDbFile } from '../support/duckdbFile';
import { testFlow, writeFlowFile } from '../support/flows';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { runWorker, spawnBin, WORKER_BIN } from '../support/worker';

let source: TestDatabase;
let state: TestDatabase;
let dir: string;

/** Column → [PostgreSQL expression, DuckDB expression] giving identical text for equal values. */
const PROJECTION: Array<[string, string, string]> = [
  ['id', 'id::text', 'id::VARCHAR'],
  ['i2', 'i2::text', 'i2::VARCHAR'],
  ['i4', 'i4::text', 'i4::VARCHAR'],
  ['i8', 'i8::text', 'i8::VARCHAR'],
  ['f8', 'f8::text', 'f8::VARCHAR'],
  ['n', 'n::text', 'n::VARCHAR'],
  ['t', 't', 't'],
  ['b', "encode(b, 'hex')", 'lower(hex(b))'],
  ['j', 'j::text', 'j::VARCHAR'],
  ['ts', '(extract(epoch from ts) * 1000000)::bigint::text', 'epoch_us(ts)::VARCHAR'],
  ['tstz', '(extract(epoch from tstz) * 1000000)::bigint::text', 'epoch_us(tstz)::VARCHAR'],
  ['d', 'd::text', 'd::VARCHAR'],
  ['u', 'u::text', 'u::VARCHAR'],
  ['arr', 'array_to_json(arr)::text', 'to_json(arr)::VARCHAR'],
  ['flag', 'flag::text', 'flag::VARCHAR'],
  ['big_len', 'length(big)::text', 'length(big)::VARCHAR'],
  ['big_md5', 'md5(big)', 'md5(big)'],
];

/** Floats print differently (`331` vs `331.0`): compare them as numbers, exactly. */
function normalize(rows: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return rows.map((r) => ({ ...r, f8: r.f8 === null ? null : Number(r.f8) }));
}

async function sourceRows(): Promise<Array<Record<string, unknown>>> {
  return normalize(await source.query(`SELECT ${PROJECTION.map(([n, pg]) => `${pg} AS ${n}`).join(', ')} FROM public.items ORDER BY id`));
}

async function destinationRows(file: string): Promise<Array<Record<string, unknown>>> {
  return normalize(await queryDuckDbFile(file, `SELECT ${PROJECTION.map(([n, , duck]) => `${duck} AS ${n}`).join(', ')} FROM public.items ORDER BY id`));
}

function env(): NodeJS.ProcessEnv {
  return { DUCTSTREAM_POSTGRES_DSN: state.dsn, DUCTSTREAM_PROGRESS_INTERVAL: '1' };
}

beforeAll(async () => {
  source = await createTestDatabase('worker_src');
  state = await createTestDatabase('worker_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-worker-'));
  await source.query(`CREATE TABLE public.items (
    id bigint PRIMARY KEY, i2 smallint, i4 integer, i8 bigint, f8 double precision, n numeric(30,10), t text, b bytea,
    j jsonb, ts timestamp(6), tstz timestamptz, d date, u uuid, arr int4[], flag boolean, big text)`);
  await source.query(`CREATE TABLE public.other (id int PRIMARY KEY, v text)`);
});

afterAll(async () => {
  await source.drop();
  await state.drop();
  rmSync(dir, { recursive: true, force: true });
});

const INSERT_ROWS = `INSERT INTO public.items
  SELECT g, (g % 32000)::int2, g * 7, 9223372036854775000 + (g % 800), g / 3.0, (g::numeric * 1234567.123456789) / 7,
         'row ' || g || ' ünïcødé ✓', decode(lpad(to_hex(g), 8, '0') || '00ff00', 'hex'),
         jsonb_build_object('g', g, 'big', 123456789012345678901234567890, 'nested', jsonb_build_array(1, 'x', null)),
         timestamp '1969-07-20 20:17:40.123456' + g * interval '1 day 1 microsecond',
         timestamptz '2038-01-19 03:14:08.000001+00' + g * interval '1 hour',
         date '1900-01-01' + g, md5(g::text)::uuid, ARRAY[g, NULL, -g], g % 2 = 0,
         CASE WHEN g % 50 = 0 THEN (SELECT string_agg(md5(g::text || s::text), '') FROM generate_series(1, 400) s) ELSE NULL END
  FROM generate_series($1::int, $2::int) g`;

describe('ductstream-worker into DuckDB', () => {
  const duck = () => join(dir, 'lifecycle.duckdb');
  let flowFile: string;

  it('creates the flow from -flow-file, copies inserts with full precision, and the table equals the source', async () => {
    flowFile = writeFlowFile(
      dir,
      testFlow({
        id: 'lifecycle',
        sourceDsn: source.dsn,
        slot: 'lifecycle_slot',
        publication: 'lifecycle_pub',
        tables: ['public.items'],
        destinations: [{ name: 'warehouse', type: 'duckdb', options: { dsn: duck() } }],
      }),
    );
    // First run creates the slot, so the inserts below are captured.
    const first = await runWorker(['-flow-file', flowFile, '-max-empty-reads', '1'], env());
    expect(first.stderr).toContain('flow "lifecycle" created');
    expect(first.code).toBe(0);

    await source.query(INSERT_ROWS, [1, 3000]);
    const r = await runWorker(['-flow-id', 'lifecycle', '-max-empty-reads', '1'], env());
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/run ended \(empty\): 3000 rows/);
    expect(r.stderr).toMatch(/progress .*rows=\d+ rows_per_s=\d+ batches=\d+ lsn=[0-9A-F]+\/[0-9A-F]+/);
    const flows = await state.query<{ state: string }>(`SELECT state FROM ductstream.flows WHERE id = 'lifecycle'`);
    expect(flows[0]!.state).toBe('running');
    expect(await destinationRows(duck())).toEqual(await sourceRows());
  });

  it('applies updates (unchanged TOAST kept, key moves), deletes and truncate', async () => {
    await source.query(`UPDATE public.items SET i4 = -i4, t = t || ' updated' WHERE id % 10 = 0`); // big (TOAST) unchanged
    await source.query(`UPDATE public.items SET id = id + 100000 WHERE id % 100 = 7`); // primary key moves
    await source.query(`UPDATE public.items SET id = id + 200000, flag = NOT flag WHERE id = 50`); // key move with an unchanged TOAST value
    await source.query(`DELETE FROM public.items WHERE id % 9 = 4`);
    await source.query(
      `BEGIN; UPDATE public.items SET n = n + 1 WHERE id = 3; UPDATE public.items SET n = n + 1 WHERE id = 3; DELETE FROM public.items WHERE id = 5; INSERT INTO public.items (id, t) VALUES (5, 'reborn'); COMMIT`,
    );
    const r = await runWorker(['-flow-id', 'lifecycle', '-max-empty-reads', '1'], env());
    expect(r.code).toBe(0);
    const src = await sourceRows();
    const moved = src.find((x) => x.id === '200050')!;
    expect(Number(moved.big_len)).toBeGreaterThan(10000);
    expect(await destinationRows(duck())).toEqual(src);

    await source.query('TRUNCATE public.items');
    await source.query(INSERT_ROWS, [10, 20]);
    const t = await runWorker(['-flow-id', 'lifecycle', '-max-empty-reads', '1'], env());
    if (t.code !== 0) console.log(t.stderr);
    expect(t.code).toBe(0);
    expect(await destinationRows(duck())).toEqual(await sourceRows());
    expect((await destinationRows(duck())).length).toBe(11);
  });

  it('keeps the checkpoint in ductstream.checkpoints and never lets the slot pass it', async () => {
    const [ckpt] = await state.query<{ lsn: string }>(`SELECT lsn::text FROM ductstream.checkpoints WHERE flow_id = 'lifecycle'`);
    const [slot] = await source.query<{ confirmed: string; ok: boolean }>(
      `SELECT confirmed_flush_lsn::text AS confirmed, confirmed_flush_lsn <= $1::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = 'lifecycle_slot'`,
      [ckpt!.lsn],
    );
    expect(slot!.ok).toBe(true);
  });

  it('advances an idle slot past unrelated WAL, then stops cleanly on Ctrl-C after the current batch', async () => {
    const worker = spawnBin(WORKER_BIN, ['-flow-id', 'lifecycle'], env());
    await worker.waitForStderr(/replication started/);
    // WAL that the publication does not cover: the slot must not hold it forever.
    await source.query(`INSERT INTO public.other SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g`);
    const { lsn: target } = (await source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn'))[0]!;
    let advanced = false;
    for (let i = 0; i < 100 && !advanced; i++) {
      const [row] = await source.query<{ ok: boolean }>(
        `SELECT confirmed_flush_lsn >= $1::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = 'lifecycle_slot'`,
        [target],
      );
      advanced = row!.ok;
      if (!advanced) await new Promise((r) => setTimeout(r, 200));
    }
    expect(advanced).toBe(true);
    const [ck] = await state.query<{ ok: boolean }>(`SELECT lsn >= $1::pg_lsn AS ok FROM ductstream.checkpoints WHERE flow_id = 'lifecycle'`, [target]);
    expect(ck!.ok).toBe(true);

    // Changes arriving while running are delivered, then SIGINT ends the run after its batch.
    await source.query(INSERT_ROWS, [30000, 30099]);
    await worker.waitForStderr(/rows=1\d\d? /, 30000).catch(() => undefined);
    worker.child.kill('SIGINT');
    const r = await worker.exited;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('SIGINT received, stopping after the current batch');
    expect(r.stderr).toMatch(/run ended \((signal|empty)\)/);
    const rest = await runWorker(['-flow-id', 'lifecycle', '-max-empty-reads', '1'], env());
    expect(rest.code).toBe(0);
    expect(await destinationRows(duck())).toEqual(await sourceRows());
  });
});
