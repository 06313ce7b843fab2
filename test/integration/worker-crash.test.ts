/**
 * Crash test: the worker is killed with SIGKILL in the middle of a backlog, restarted, and the
 * destination converges to the source with no change lost and none applied twice in effect.
 * A second, append-mode destination records every applied change once: a replay that were
 * applied again would show up there as a duplicate (commit LSN, seq).
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

beforeAll(async () => {
  source = await createTestDatabase('crash_src');
  state = await createTestDatabase('crash_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-crash-'));
  await source.query('CREATE TABLE public.ledger (id bigint PRIMARY KEY, v bigint NOT NULL, note text)');
});

afterAll(async () => {
  await source.drop();
  await state.drop();
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('converges after kill -9 mid-stream: nothing lost, nothing applied twice, slot never ahead of the checkpoint', async () => {
  const target = join(dir, 'target.duckdb');
  const journal = join(dir, 'journal.duckdb');
  const flowFile = writeFlowFile(
    dir,
    testFlow({
      id: 'crashy',
      sourceDsn: source.dsn,
      slot: 'crashy_slot',
      publication: 'crashy_pub',
      tables: ['public.ledger'],
      sourceOptions: { batch_size: '500' },
      destinations: [
        { name: 'target', type: 'duckdb', options: { dsn: target } },
        { name: 'journal', type: 'duckdb', options: { dsn: journal, write_mode: 'append' } },
      ],
    }),
  );
  const env = { DUCTSTREAM_POSTGRES_DSN: state.dsn, DUCTSTREAM_STEP_MAX_ROWS: '2000', DUCTSTREAM_PROGRESS_INTERVAL: '1' };
  expect((await runWorker(['-flow-file', flowFile, '-max-empty-reads', '1'], env)).code).toBe(0);

  // A backlog of 200 transactions: inserts, updates of earlier rows, deletes.
  for (let t = 0; t < 200; t++) {
    const base = t * 300;
    await source.query(`BEGIN;
      INSERT INTO public.ledger SELECT g, g, 'n' || g FROM generate_series(${base + 1}, ${base + 300}) g;
      UPDATE public.ledger SET v = v + 1000000 WHERE id % 7 = 0 AND id > ${base - 300} AND id <= ${base};
      DELETE FROM public.ledger WHERE id % 11 = 0 AND id > ${base - 300} AND id <= ${base};
      COMMIT`);
  }
  const counted = await source.query<{ n: string }>(`SELECT count(*)::text AS n FROM public.ledger`);
  // every insert, plus one update per id%7 row and one delete per id%11 row of the first 199 blocks
  const changes =
    60000 +
    [...Array(59700).keys()].map((i) => i + 1).filter((id) => id % 7 === 0).length +
    [...Array(59700).keys()].map((i) => i + 1).filter((id) => id % 11 === 0).length;

  const { end_lsn: backlogEnd } = (await source.query<{ end_lsn: string }>('SELECT pg_current_wal_lsn()::text AS end_lsn'))[0]!;
  const { lsn: initial } = (await state.query<{ lsn: string }>(`SELECT lsn::text AS lsn FROM ductstream.checkpoints WHERE flow_id = 'crashy'`))[0]!;

  const worker = spawnBin(WORKER_BIN, ['-flow-id', 'crashy'], env);
  // Sample the invariant while it streams: the slot's confirmed LSN never passes the checkpoint.
  // Kill as soon as the checkpoint has moved twice but is still inside the backlog.
  let samples = 0;
  let violations = 0;
  let killedAt = '';
  const seen = new Set<string>();
  for (let i = 0; i < 1200 && !killedAt; i++) {
    const [slot] = await source.query<{ confirmed: string | null }>(
      `SELECT confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = 'crashy_slot'`,
    );
    const [ck] = await state.query<{ lsn: string }>(`SELECT lsn::text AS lsn FROM ductstream.checkpoints WHERE flow_id = 'crashy'`);
    samples++;
    const [cmp] = await source.query<{ ahead: boolean; inside: boolean }>('SELECT $1::pg_lsn > $2::pg_lsn AS ahead, $2::pg_lsn < $3::pg_lsn AS inside', [
      slot!.confirmed,
      ck!.lsn,
      backlogEnd,
    ]);
    if (cmp!.ahead) violations++;
    if (ck!.lsn !== initial) seen.add(ck!.lsn);
    if (seen.size >= 2 && cmp!.inside) killedAt = ck!.lsn;
    else await sleep(20);
  }
  expect(killedAt).not.toBe('');
  worker.child.kill('SIGKILL');
  const killed = await worker.exited;
  expect(killed.signal).toBe('SIGKILL');
  expect(samples).toBeGreaterThan(0);
  expect(violations).toBe(0);

  const restart = await runWorker(['-flow-id', 'crashy', '-max-empty-reads', '2'], env);
  expect(restart.code).toBe(0);
  expect(restart.stderr).toContain('resuming an interrupted run');

  // Target equals the source.
  const src = await source.query<{ id: string; v: string; note: string }>('SELECT id::text, v::text, note FROM public.ledger ORDER BY id');
  const dst = await queryDuckDbFile(target, 'SELECT id::VARCHAR AS id, v::VARCHAR AS v, note FROM public.ledger ORDER BY id');
  expect(dst.length).toBe(Number(counted[0]!.n));
  expect(dst).toEqual(src);
  // Every change recorded exactly once in the journal.
  const [j] = await queryDuckDbFile(journal, 'SELECT count(*)::VARCHAR AS n, count(DISTINCT (__ds_lsn, __ds_seq))::VARCHAR AS d FROM public.ledger');
  expect(Number(j!.n)).toBe(changes);
  expect(Number(j!.d)).toBe(changes);
}, 300_000); // a 60k-change backlog or a dozen CLI processes: minutes on a loaded 2-core machine
