/**
 * The DDL event trigger (`ddl install-trigger`) with a long `batch_timeout` (10 s), against DuckDB
 * through the worker binary:
 * - a DDL with no row after it (a DDL-only batch) is handled as soon as the stream has caught up,
 *   not after `batch_timeout`: a DROP TABLE is recorded, an ALTER's text is kept, within seconds;
 * - the ALTER's text survives a restart between the DDL (its message consumed and confirmed) and
 *   the table's next row: the event recorded then carries it, and the table reads back equal;
 * - the text of a DDL the stream does not show (SET DEFAULT) never lands on a later change.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAdmin } from '../support/admin';
import { duckColumns, expectDuckItemsEqual, runFlowOnce, storedDdlEvents, waitFor } from '../support/ddl';
import { testFlow, writeFlowFile } from '../support/flows';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { runWorker, spawnBin, WORKER_BIN } from '../support/worker';

let source: TestDatabase;
let state: TestDatabase;
let dir: string;
let duck: string;

const FLOW = 'trig';
const env = (): NodeJS.ProcessEnv => ({ DUCTSTREAM_POSTGRES_DSN: state.dsn });
const captured = (): Promise<Array<{ ddl: string }>> =>
  state.query<{ ddl: string }>('SELECT ddl FROM ductstream.ddl_captured WHERE flow_id = $1 ORDER BY message_lsn', [FLOW]);

beforeAll(async () => {
  source = await createTestDatabase('ddl_trigger_src');
  state = await createTestDatabase('ddl_trigger_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-ddl-trigger-'));
  duck = join(dir, 'trig.duckdb');
  await source.query('CREATE TABLE public.items (id int PRIMARY KEY, v text)');
  await source.query('CREATE TABLE public.gone (id int PRIMARY KEY)');
  const flowFile = writeFlowFile(
    dir,
    testFlow({
      id: FLOW,
      sourceDsn: source.dsn,
      slot: 'trig_slot',
      publication: 'trig_pub',
      tables: ['public.items', 'public.gone'],
      destinations: [{ name: 'duck', type: 'duckdb', options: { dsn: duck } }],
      sourceOptions: { batch_timeout: '10s' },
    }),
  );
  expect((await runWorker(['-flow-file', flowFile, '-max-empty-reads', '1'], env())).code).toBe(0);
  await source.query(`INSERT INTO public.items SELECT g, 'v' || g FROM generate_series(1, 30) g`);
  await source.query('INSERT INTO public.gone VALUES (1)');
  await runFlowOnce(FLOW, env());
  await expectDuckItemsEqual(source, duck, ['id', 'v']);
  expect((await runAdmin(['ddl', 'install-trigger', '-flow-id', FLOW], env())).code).toBe(0);
}, 120_000);

afterAll(async () => {
  await source?.drop();
  await state?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('DDL event trigger', () => {
  it('handles a DDL-only batch as soon as the stream has caught up, not after batch_timeout', async () => {
    const w = spawnBin(WORKER_BIN, ['-flow-id', FLOW], env());
    try {
      await w.waitForStderr(/replication started/);
      let t0 = Date.now();
      await source.query('DROP TABLE public.gone');
      await waitFor('the drop_table event', async () => ((await storedDdlEvents(state, FLOW)).some((e) => e.kind === 'drop_table') ? true : undefined));
      const dropMs = Date.now() - t0;
      t0 = Date.now();
      await source.query('ALTER TABLE public.items ADD COLUMN note text');
      await waitFor('the captured ALTER text', async () => ((await captured()).length > 0 ? true : undefined));
      const alterMs = Date.now() - t0;
      // batch_timeout is 10 s: both were handled at catch-up.
      expect(dropMs).toBeLessThan(4000);
      expect(alterMs).toBeLessThan(4000);
      // The ALTER's message is consumed and confirmed: a restart now cannot read it again.
      const lsn = (await source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'))[0]!.lsn;
      await waitFor('the slot to confirm the DDL', async () => {
        const r = await source.query<{ ok: boolean }>(
          `SELECT confirmed_flush_lsn >= $1::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = 'trig_slot'`,
          [lsn],
        );
        return r[0]?.ok ? true : undefined;
      });
    } finally {
      w.child.kill('SIGINT');
    }
    expect((await w.exited).code).toBe(0);
    const events = await storedDdlEvents(state, FLOW);
    expect(events).toEqual([expect.objectContaining({ table: 'public.gone', kind: 'drop_table', ddl: 'DROP TABLE public.gone', status: 'applied' })]);
    expect(await captured()).toEqual([{ ddl: 'ALTER TABLE public.items ADD COLUMN note text' }]);
  }, 120_000);

  it('a restart between the DDL and the next row keeps the DDL text; the table reads back equal', async () => {
    await source.query(`INSERT INTO public.items VALUES (31, 'v31', 'n31')`);
    await source.query(`UPDATE public.items SET note = 'n' || id WHERE id <= 10`);
    await runFlowOnce(FLOW, env());
    expect((await duckColumns(duck)).map(([n]) => n)).toEqual(['id', 'v', 'note']);
    await expectDuckItemsEqual(source, duck, ['id', 'v', 'note']);
    const added = (await storedDdlEvents(state, FLOW)).filter((e) => e.kind === 'add_column');
    expect(added).toEqual([expect.objectContaining({ table: 'public.items', ddl: 'ALTER TABLE public.items ADD COLUMN note text', status: 'applied' })]);
    expect(await captured()).toEqual([]);
  }, 120_000);

  it('the text of a DDL the stream does not show is not attached to a later change', async () => {
    await source.query(`ALTER TABLE public.items ALTER COLUMN v SET DEFAULT 'dflt'`);
    await source.query(`INSERT INTO public.items (id, note) VALUES (32, 'n32')`);
    await runFlowOnce(FLOW, env());
    expect(await captured()).toEqual([]);
    await source.query('ALTER TABLE public.items ADD COLUMN qty int');
    await source.query(`INSERT INTO public.items VALUES (33, 'v33', 'n33', 33)`);
    await runFlowOnce(FLOW, env());
    await expectDuckItemsEqual(source, duck, ['id', 'v', 'note', 'qty']);
    const added = (await storedDdlEvents(state, FLOW)).filter((e) => e.kind === 'add_column');
    expect(added.map((e) => e.ddl)).toEqual(['ALTER TABLE public.items ADD COLUMN note text', 'ALTER TABLE public.items ADD COLUMN qty int']);
    expect(await captured()).toEqual([]);
  }, 120_000);
});
