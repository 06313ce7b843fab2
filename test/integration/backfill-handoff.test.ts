/**
 * Hand-off: a flow streams into DuckDB through the real server while a backfill of its table runs
 * through the gRPC BackfillService. Rows the stream delivered before are deleted and updated while
 * the backfill plans (between its hold and its snapshot) and a writer keeps changing rows during the
 * load; afterwards the stream takes over and DuckDB equals the source: nothing deleted comes back,
 * nothing is lost. `admin backfill status -json` shows the finished backfill; bad requests name the field.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flowClient, startApiServer, waitFor, type ApiServerProcess, type FlowClient } from '../support/api';
import { adminJson } from '../support/admin';
import { queryDuckDbFile } from '../support/duckdbFile';
import { testFlow } from '../support/flows';
import { createTestDatabase, type TestDatabase } from '../support/pg';

let source: TestDatabase;
let state: TestDatabase;
let dir: string;
let server: ApiServerProcess;
let flows: FlowClient;
let backfills: FlowClient;
const ROWS = 6000;

beforeAll(async () => {
  [source, state] = await Promise.all([createTestDatabase('bfh_src'), createTestDatabase('bfh_state')]);
  dir = mkdtempSync(join(tmpdir(), 'ductstream-bfh-'));
  await source.query('CREATE TABLE public.items (id bigint PRIMARY KEY, name text, v int NOT NULL)');
  await source.query(`INSERT INTO public.items SELECT g, 'item ' || g, g FROM generate_series(1, ${ROWS}) g`);
  await source.query('ANALYZE public.items');
  server = await startApiServer({
    DUCTSTREAM_POSTGRES_DSN: state.dsn,
    DBOS__VMID: 'backfill-handoff-test',
    DUCTSTREAM_SUPERVISOR_INTERVAL: '1',
    DUCTSTREAM_BACKFILL_CHUNK_ROWS: '500',
  });
  flows = flowClient(server.address);
  backfills = flowClient(server.address, 'BackfillService');
}, 120_000);

afterAll(async () => {
  if (process.env.BFH_DEBUG) process.stderr.write(server?.proc.output().stderr.slice(-6000) ?? '');
  flows?.close();
  backfills?.close();
  await server?.stop();
  await Promise.allSettled([source?.drop(), state?.drop()]);
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `sql` in a transaction and returns a WAL position its commit record comes after (the checkpoint passes it once delivered). */
async function change(sql: string): Promise<string> {
  await source.query('BEGIN');
  await source.query(sql);
  const { lsn } = (await source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn'))[0]!;
  await source.query('COMMIT');
  return lsn;
}
const checkpointPast = async (flowId: string, lsn: string): Promise<boolean> => {
  const rows = await state.query<{ ok: boolean }>('SELECT lsn >= $2::pg_lsn AS ok FROM ductstream.checkpoints WHERE flow_id = $1', [flowId, lsn]);
  return rows[0]?.ok === true;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Item = { id: string; name: string | null; v: number };
const sourceItems = async (): Promise<Item[]> =>
  (await source.query<{ id: string; name: string | null; v: number }>('SELECT id::text AS id, name, v FROM public.items ORDER BY id')).map((r) => ({ ...r }));
const duckItems = async (file: string): Promise<Item[]> =>
  (await queryDuckDbFile(file, 'SELECT id::VARCHAR AS id, name, v FROM public.items ORDER BY id').catch(() => [])).map((r) => ({
    id: String(r.id),
    name: r.name === null ? null : String(r.name as string),
    v: Number(r.v),
  }));

it('a backfill started through BackfillService hands off to the running stream without losing or resurrecting rows', async () => {
  const duck = join(dir, 'items.duckdb');
  const flow = testFlow({
    id: 'bfh',
    sourceDsn: source.dsn,
    slot: 'bfh_slot',
    publication: 'bfh_pub',
    tables: ['public.items'],
    sourceOptions: { batch_size: '200' },
    destinations: [{ name: 'wh', type: 'duckdb', options: { dsn: duck } }],
  });
  await flows.call('CreateFlow', { flow, start_immediately: true });
  await waitFor('the slot', async () => (await source.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = 'bfh_slot'`)).length > 0, 60_000);
  // Rows the stream delivers before the backfill (the older rows are only in the source).
  const streamed = await change(`INSERT INTO public.items SELECT g, 'streamed ' || g, g FROM generate_series(${ROWS + 1}, ${ROWS + 300}) g`);
  await waitFor('the stream to deliver the new rows', () => checkpointPast('bfh', streamed), 60_000);

  // Bad input names the field and starts nothing.
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ flow_id: 'bfh', tables: ['public.nope'] }, 'tables'],
    [{ flow_id: 'bfh', tables: ['public.items'], options: { partition_count: '0' } }, 'options.partition_count'],
    [{ flow_id: 'bfh', tables: ['public.items'], options: { partition_column: 'nope' } }, 'options.partition_column'],
    [{ flow_id: 'bfh', tables: ['public.items'], options: { snapshot_state_backend: 'file' } }, 'options.snapshot_state_backend'],
  ];
  for (const [req, field] of bad) {
    const err = await backfills.fail('StartBackfill', req);
    expect({ code: err.code, field: err.metadata.get('ductstream-field')[0], oneLine: !err.details.includes('\n') }).toEqual({ code: 3, field, oneLine: true });
  }
  expect((await backfills.call<{ backfills: unknown[] }>('ListBackfills', { flow_id: 'bfh' })).backfills ?? []).toHaveLength(0);

  let writing = true;
  const writer = (async () => {
    for (let i = 0; writing; i++) {
      const id = 1 + ((i * 7919) % ROWS);
      await source.query(`BEGIN;
        UPDATE public.items SET v = v + 1000000, name = 'changed ${i}' WHERE id = ${id};
        DELETE FROM public.items WHERE id = ${1 + ((i * 104729) % ROWS)};
        INSERT INTO public.items VALUES (${100000 + i}, 'new ${i}', ${i}) ON CONFLICT DO NOTHING;
        COMMIT`);
      await sleep(10);
    }
  })();
  writer.catch(() => (writing = false));
  let started: { backfill_id: string; status: string };
  try {
    started = await backfills.call('StartBackfill', {
      flow_id: 'bfh',
      tables: ['public.items'],
      options: { partition_column: 'id', partition_count: '3', snapshot_workers: '2' },
    });
    expect(started.backfill_id).toMatch(/^backfill-bfh-\d+$/);
    // While the plan waits for the stream to hold the table: rows the stream had delivered go away or change.
    await source.query(`DELETE FROM public.items WHERE id BETWEEN ${ROWS + 1} AND ${ROWS + 100}`);
    await source.query(`UPDATE public.items SET name = 'late update' WHERE id BETWEEN ${ROWS + 101} AND ${ROWS + 200}`);
    await waitFor(
      'the backfill to end',
      async () => {
        const b = await backfills.call<{ status: string }>('GetBackfill', { backfill_id: started.backfill_id });
        return b.status !== 'PENDING' && b.status !== 'ENQUEUED' ? b : null;
      },
      300_000,
      500,
    );
  } finally {
    writing = false;
    await writer.catch(() => undefined);
  }
  const done = await backfills.call<{ status: string; tables: Array<{ table: string; rows_done: string }> }>('GetBackfill', {
    backfill_id: started.backfill_id,
  });
  expect(done.status).toBe('SUCCESS');
  expect(done.tables[0]).toMatchObject({ table: 'public.items', partitioning: 'range(id)', partitions: 3, partitions_done: 3 });
  expect(Number(done.tables[0]!.rows_done)).toBeGreaterThanOrEqual(ROWS - 200);

  // The stream takes over: once its checkpoint passes the last change, pause the flow (the server lets go of the DuckDB file).
  const end = await change(`UPDATE public.items SET name = 'last' WHERE id = ${ROWS + 300}`);
  await waitFor('the stream to pass the last change after the hand-off', () => checkpointPast('bfh', end), 120_000, 500);
  await flows.call('PauseFlow', { flow_id: 'bfh' });
  await waitFor(
    'the run to end',
    async () => {
      const runs = (await flows.call<{ runs?: Array<{ status: string }> }>('ListFlowRuns', { flow_id: 'bfh', page_size: 100 })).runs ?? [];
      return runs.every((r) => !['ENQUEUED', 'PENDING'].includes(r.status));
    },
    60_000,
  );
  const want = await sourceItems();
  let got: Item[] = [];
  await waitFor('the DuckDB file', async () => (got = await duckItems(duck)).length > 0, 30_000);
  expect(got.filter((r) => Number(r.id) > ROWS && Number(r.id) <= ROWS + 100)).toEqual([]);
  expect(got).toEqual(want);

  const status = await adminJson<{ backfill_id: string; status: string; tables: Array<{ table: string; rows_done: number }> }>(
    ['backfill', 'status', '-flow-id', 'bfh'],
    { DUCTSTREAM_POSTGRES_DSN: state.dsn },
  );
  expect(status).toMatchObject({
    backfill_id: started.backfill_id,
    status: 'SUCCESS',
    tables: [{ table: 'public.items', partitioning: 'range(id)', partitions: 3 }],
  });
  expect(status.tables[0]!.rows_done).toBe(Number(done.tables[0]!.rows_done));
}, 900_000);
