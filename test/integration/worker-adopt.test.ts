/**
 * A worker adopts only the interrupted run of its own flow, matched by exact flow ID: the run of
 * flow `orders-eu`, left PENDING by a worker killed with SIGKILL, is not adopted by a worker of
 * flow `orders` although its run ID starts with `flowrun-orders-`. The `orders` worker runs its own
 * flow to the end and the `orders-eu` run stays exactly as it was.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { queryDuckDbFile } from '../support/duckdbFile';
import { testFlow, writeFlowFile } from '../support/flows';
import { clusterDsn, createTestDatabase, type TestDatabase } from '../support/pg';
import { runWorker, spawnBin, WORKER_BIN } from '../support/worker';

let source: TestDatabase;
let state: TestDatabase;
let sys: Client;
let dir: string;

beforeAll(async () => {
  source = await createTestDatabase('adopt_src');
  state = await createTestDatabase('adopt_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-adopt-'));
  await source.query('CREATE TABLE public.orders (id bigint PRIMARY KEY, region text NOT NULL)');
});

afterAll(async () => {
  await sys?.end();
  await source.drop();
  await state.drop();
  rmSync(dir, { recursive: true, force: true });
});

function flowFile(id: string, slot: string): string {
  return writeFlowFile(
    dir,
    testFlow({
      id,
      sourceDsn: source.dsn,
      slot,
      publication: `${slot}_pub`,
      tables: ['public.orders'],
      destinations: [{ name: 'target', type: 'duckdb', options: { dsn: join(dir, `${id}.duckdb`) } }],
    }),
  );
}

it('a worker of flow "orders" does not adopt the PENDING run of flow "orders-eu"', async () => {
  const env = { DUCTSTREAM_POSTGRES_DSN: state.dsn, DUCTSTREAM_TAKEOVER_AFTER: '1' };
  const eu = spawnBin(WORKER_BIN, ['-flow-file', flowFile('orders-eu', 'orders_eu')], env);
  await eu.waitForStderr(/flow run prepared/);
  eu.child.kill('SIGKILL');
  expect((await eu.exited).signal).toBe('SIGKILL');

  sys = new Client(clusterDsn(`${state.name}_dbos_sys`));
  await sys.connect();
  const runsOf = async () =>
    (
      await sys.query<{ id: string; status: string; executor: string }>(
        `SELECT workflow_uuid AS id, status, executor_id AS executor FROM dbos.workflow_status WHERE name = 'flowRun' ORDER BY created_at`,
      )
    ).rows;
  const [euRun, ...none] = await runsOf();
  expect(none).toEqual([]);
  expect(euRun).toMatchObject({ status: 'PENDING', executor: expect.stringMatching(/^worker-orders-eu@/) });
  expect(euRun!.id.startsWith('flowrun-orders-')).toBe(true);

  // The "orders" flow's publication and slot exist before the changes it must deliver.
  await source.query('CREATE PUBLICATION orders_pub FOR TABLE public.orders');
  await source.query(`SELECT pg_create_logical_replication_slot('orders', 'pgoutput')`);
  await source.query(`INSERT INTO public.orders SELECT g, 'eu' FROM generate_series(1, 300) g`);
  const r = await runWorker(['-flow-file', flowFile('orders', 'orders'), '-max-empty-reads', '1'], env, 60_000);
  expect(r.code).toBe(0);
  expect(r.stderr).not.toContain('resuming an interrupted run');
  expect(r.stderr).not.toContain('took over');
  expect(r.stderr).toMatch(/flow "orders" run ended \(empty\): 300 rows/);

  // Its own run ended; the other flow's run is untouched (same status, same executor).
  const after = await runsOf();
  expect(after[0]).toEqual(euRun);
  expect(after.slice(1)).toEqual([expect.objectContaining({ id: expect.stringMatching(/^flowrun-orders-\d+$/), status: 'SUCCESS' })]);
  const rows = await queryDuckDbFile(join(dir, 'orders.duckdb'), 'SELECT count(*)::INTEGER AS n FROM public.orders');
  expect(rows).toEqual([{ n: 300 }]);
});
