/**
 * A standalone worker (no DUCTSTREAM_POSTGRES_DSN): the flow comes from -flow-file, checkpoints
 * live in SQLite, and DBOS keeps its system database on the source's server. Also -start-lsn.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { queryDuckDbFile } from '../support/duckdbFile';
import { testFlow, writeFlowFile } from '../support/flows';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { runWorker } from '../support/worker';

let source: TestDatabase;
let dir: string;

beforeAll(async () => {
  source = await createTestDatabase('standalone_src');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-standalone-'));
  await source.query('CREATE TABLE public.events (id int PRIMARY KEY, body text)');
});

afterAll(async () => {
  await source.drop();
  rmSync(dir, { recursive: true, force: true });
});

function sqliteCheckpoint(path: string): string | undefined {
  const db = new Database(path, { readonly: true });
  try {
    const row = db.prepare(`SELECT lsn_text FROM checkpoints WHERE flow_id = 'standalone'`).get() as { lsn_text: string } | undefined;
    return row?.lsn_text;
  } finally {
    db.close();
  }
}

let flowFile: string;
const ckpt = (): string => join(dir, 'state', 'checkpoints.db');
const journal = (): string => join(dir, 'journal.duckdb');
const env = (): NodeJS.ProcessEnv => ({ DUCTSTREAM_POSTGRES_DSN: '', DUCTSTREAM_CHECKPOINT_BACKEND: 'sqlite', DUCTSTREAM_CHECKPOINT_PATH: ckpt() });

it('runs from -flow-file with SQLite checkpoints, resumes from them, and -start-lsn skips ahead', async () => {
  flowFile = writeFlowFile(
    dir,
    testFlow({
      id: 'standalone',
      sourceDsn: source.dsn,
      slot: 'standalone_slot',
      publication: 'standalone_pub',
      tables: ['public.events'],
      destinations: [{ name: 'journal', type: 'duckdb', options: { dsn: journal(), write_mode: 'append' } }],
    }),
  );

  expect((await runWorker(['-flow-file', flowFile, '-max-empty-reads', '1'], env())).code).toBe(0);
  await source.query(`INSERT INTO public.events SELECT g, 'first ' || g FROM generate_series(1, 100) g`);
  const r1 = await runWorker(['-flow-file', flowFile, '-max-empty-reads', '1'], env());
  expect(r1.code).toBe(0);
  const after1 = sqliteCheckpoint(ckpt());
  expect(after1).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);

  // A second run starts from the SQLite checkpoint: nothing is delivered twice.
  await source.query(`INSERT INTO public.events SELECT g, 'second ' || g FROM generate_series(101, 150) g`);
  expect((await runWorker(['-flow-file', flowFile, '-max-empty-reads', '1'], env())).code).toBe(0);
  let rows = await queryDuckDbFile(journal(), 'SELECT count(*)::INT AS n, count(DISTINCT id)::INT AS d FROM public.events');
  expect(rows[0]).toEqual({ n: 150, d: 150 });

  // -start-lsn beyond a transaction skips it.
  await source.query(`INSERT INTO public.events VALUES (1000, 'skipped')`);
  const { lsn } = (await source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn'))[0]!;
  await source.query(`INSERT INTO public.events VALUES (2000, 'kept')`);
  const r3 = await runWorker(['-flow-file', flowFile, '-max-empty-reads', '1', '-start-lsn', lsn], env());
  expect(r3.code).toBe(0);
  rows = await queryDuckDbFile(journal(), `SELECT id FROM public.events WHERE id >= 1000 ORDER BY id`);
  expect(rows).toEqual([{ id: 2000 }]);

  // DBOS kept its system database beside the source.
  const sys = await source.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_database WHERE datname = $1`, [`${source.name}_ductstream_dbos_sys`]);
  expect(sys[0]!.n).toBe(1);
});

it("refuses -start-lsn before the slot's confirmed position: exit 2, the slot's LSNs named, nothing replayed or stored", async () => {
  const checkpoint = sqliteCheckpoint(ckpt());
  const count = async (): Promise<unknown> => (await queryDuckDbFile(journal(), 'SELECT count(*)::INT AS n FROM public.events'))[0];
  const rowsBefore = await count();
  const [slot] = await source.query<{ c: string; r: string }>(
    `SELECT confirmed_flush_lsn::text AS c, restart_lsn::text AS r FROM pg_replication_slots WHERE slot_name = 'standalone_slot'`,
  );
  const r = await runWorker(['-flow-file', flowFile, '-max-empty-reads', '1', '-start-lsn', '0/1'], env());
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`flag -start-lsn: 0/1 is before replication slot standalone_slot's confirmed position ${slot!.c} (restart_lsn ${slot!.r})`);
  expect(r.stderr).toContain(`pass a -start-lsn from ${slot!.c} up to`);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).not.toContain('run ended');
  expect(sqliteCheckpoint(ckpt())).toBe(checkpoint);
  expect(await count()).toEqual(rowsBefore);
});
