/**
 * A backfill's runtime (destinations, source pool) closes in the process that ran it however the
 * backfill ends, so another process can open the flow's DuckDB file afterwards (DuckDB lets one
 * process hold a file): here a backfill is cancelled mid-way (a cancelled DBOS workflow runs no
 * further step, so its `finishBackfill` step never runs), then a separate Node process opens the
 * file for writing and reads back the rows written before the cancel. Real PostgreSQL, real DBOS,
 * a real DuckDB file.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { readServiceEnv } from '../../src/config/env';
import { silentLogger } from '../../src/core/log';
import '../../src/destinations';
import { openBackfillRuntimes, releaseAllBackfillRuntimes } from '../../src/pipeline/backfillRuntime';
import { PipelineContext } from '../../src/pipeline/context';
import { startBackfill } from '../../src/services/backfill/start';
import { cancelBackfill, dbosReader, getBackfill } from '../../src/services/backfill/status';
import { openAppState, type AppState } from '../../src/state/open';
import { getCodec } from '../../src/wire/registry';
import { bindPipelineContext } from '../../src/workflows/context';
import { launchDbos, shutdownDbos } from '../../src/workflows/dbos';
import { createTestDatabase, type TestDatabase } from '../support/pg';

jest.setTimeout(180_000);

const ROWS = 20_000;

let source: TestDatabase;
let stateDb: TestDatabase;
let state: AppState;
let dir: string;

beforeAll(async () => {
  source = await createTestDatabase('bfclose_src');
  stateDb = await createTestDatabase('bfclose_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-bfclose-'));
  await source.query('CREATE TABLE public.items (id int PRIMARY KEY, v text)');
  await source.query(`INSERT INTO public.items SELECT g, 'v' || g FROM generate_series(1, ${ROWS}) g`);
  await source.query('ANALYZE public.items');
  // One chunk is one block (~100 rows): the backfill takes long enough to be cancelled mid-way.
  const env = readServiceEnv({ DUCTSTREAM_POSTGRES_DSN: stateDb.dsn, DUCTSTREAM_BACKFILL_CHUNK_ROWS: '100' });
  state = await openAppState(env);
  bindPipelineContext(new PipelineContext({ env, flows: state.flows, checkpoints: state.checkpoints, codecFor: getCodec, log: silentLogger }));
  await launchDbos({ env, executorId: 'backfill-close-test', systemDatabaseUrl: env.dbosSystemDatabaseUrl!, log: silentLogger, listenQueues: 'all' });
});

afterAll(async () => {
  await releaseAllBackfillRuntimes();
  await shutdownDbos();
  await state?.close();
  await source?.drop();
  await stateDb?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Opens `file` for writing in another Node process and returns `SELECT id, v` of its items table, or the open's error. */
function readInOtherProcess(file: string): Promise<{ rows: Array<[number, string]> } | { error: string }> {
  const script = `
    const { DuckDBInstance } = require('@duckdb/node-api');
    (async () => {
      const db = await DuckDBInstance.create(process.argv[1]);
      const c = await db.connect();
      const rows = (await c.runAndReadAll('SELECT id, v FROM public.items ORDER BY id')).getRows();
      c.closeSync();
      db.closeSync();
      process.stdout.write(JSON.stringify(rows));
    })().catch((e) => { process.stderr.write(String(e && e.message)); process.exit(3); });`;
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', script, file], { cwd: process.cwd() }, (err, stdout, stderr) => {
      if (err) resolve({ error: stderr || err.message });
      else resolve({ rows: JSON.parse(stdout) as Array<[number, string]> });
    });
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('a cancelled backfill leaves the DuckDB file free for another process, with the rows written before the cancel', async () => {
  const file = join(dir, 'cancel.duckdb');
  await state.flows.create({
    id: 'bfclose',
    name: 'bfclose',
    wire_format: 'json',
    parallelism: 1,
    state: 'created',
    source: {
      name: 'pg',
      type: 'postgres',
      options: { dsn: source.dsn, slot: 'bfclose_slot', publication: 'bfclose_pub', publication_tables: 'public.items', snapshot_state_backend: 'none' },
    },
    destinations: [{ name: 'warehouse', type: 'duckdb', options: { dsn: file } }],
  });
  const { backfillId } = await startBackfill(
    'bfclose',
    { tables: ['public.items'], options: { snapshot_workers: '2', partition_count: '2' } },
    { tables: 'tables', option: (k) => k },
  );
  await waitFor('the first chunks', async () => ((await getBackfill(dbosReader, backfillId))?.rowsDone ?? 0) > 0 || undefined);
  expect(await cancelBackfill(dbosReader, backfillId)).toBe(true);
  await waitFor('the backfill to be cancelled', async () => ((await DBOS.getWorkflowStatus(backfillId))?.status === 'CANCELLED' ? true : undefined));

  const read = await waitFor('another process to open the DuckDB file', async () => {
    const r = await readInOtherProcess(file);
    return 'rows' in r ? r.rows : undefined;
  });
  expect(openBackfillRuntimes()).toEqual([]);
  // Rows written before the cancel, each equal to its source row, and not all of them.
  expect(read.length).toBeGreaterThan(0);
  expect(read.length).toBeLessThan(ROWS);
  const src = new Map((await source.query<{ id: number; v: string }>('SELECT id, v FROM public.items')).map((r) => [r.id, r.v]));
  for (const [id, v] of read) expect(v).toBe(src.get(Number(id)));
});
