/**
 * Schema changes with DUCTSTREAM_DDL_GATE=true, through the real worker and admin binaries: the
 * changed table stops at the DDL's LSN while the flow's other table goes on, the approval DBOS
 * workflow waits for `ddl approve` and `ddl apply` (also across kill -9), and the table then
 * resumes from the DDL's LSN with nothing lost. Every check reads the DuckDB file back and
 * compares it with the source.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminJson, runAdmin } from '../support/admin';
import { queryDuckDbFile } from '../support/duckdbFile';
import { testFlow, writeFlowFile } from '../support/flows';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { runWorker, spawnBin, WORKER_BIN } from '../support/worker';

let source: TestDatabase;
let state: TestDatabase;
let dir: string;
let duck: string;

interface EventView {
  id: number;
  table: string;
  kind: string;
  lsn: string;
  status: string;
  reason: string;
  actor: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const gated = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ DUCTSTREAM_POSTGRES_DSN: state.dsn, DUCTSTREAM_DDL_GATE: 'true', ...extra });

async function runOnce(env: NodeJS.ProcessEnv = gated()): Promise<string> {
  const r = await runWorker(['-flow-id', 'gated', '-max-empty-reads', '1'], env);
  if (r.code !== 0) throw new Error(`worker exited ${r.code}: ${r.stderr.slice(-3000)}`);
  return r.stderr;
}

async function rows(table: string, cols: string[]): Promise<{ src: unknown[]; dst: unknown[] }> {
  const src = await source.query(`SELECT ${cols.map((c) => `${c}::text AS ${c}`).join(', ')} FROM public.${table} ORDER BY id`);
  const dst = await queryDuckDbFile(duck, `SELECT ${cols.map((c) => `${c}::VARCHAR AS ${c}`).join(', ')} FROM public.${table} ORDER BY id`);
  return { src, dst };
}

async function expectEqual(table: string, cols: string[]): Promise<void> {
  const { src, dst } = await rows(table, cols);
  expect(dst.length).toBeGreaterThan(0);
  expect(dst).toEqual(src);
}

async function events(status?: string): Promise<EventView[]> {
  return adminJson<EventView[]>(['ddl', 'list', '-flow-id', 'gated', ...(status ? ['-status', status] : [])], gated());
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/** A long-running worker until the event is applied and its table caught up, then Ctrl-C and one more bounded run. */
async function runUntilApplied(id: number, env: NodeJS.ProcessEnv = gated()): Promise<void> {
  const w = spawnBin(WORKER_BIN, ['-flow-id', 'gated'], env);
  try {
    await waitFor(`event ${id} applied`, async () =>
      (await state.query(`SELECT 1 FROM ductstream.ddl_events WHERE id = $1 AND status = 'applied'`, [id])).length ? true : undefined,
    );
    await sleep(3000); // release check (1 s) and reread
  } finally {
    w.child.kill('SIGINT');
    await w.exited;
  }
  await runOnce(env);
}

async function checkpointLsn(): Promise<string> {
  const [r] = await state.query<{ lsn: string }>(`SELECT lsn::text AS lsn FROM ductstream.checkpoints WHERE flow_id = 'gated'`);
  return r!.lsn;
}

async function lsnBefore(a: string, b: string): Promise<boolean> {
  const [r] = await state.query<{ ok: boolean }>('SELECT $1::pg_lsn <= $2::pg_lsn AS ok', [a, b]);
  return r!.ok;
}

beforeAll(async () => {
  source = await createTestDatabase('ddl_on_src');
  state = await createTestDatabase('ddl_on_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-ddl-on-'));
  duck = join(dir, 'gated.duckdb');
  await source.query('CREATE TABLE public.items (id int PRIMARY KEY, v text)');
  await source.query('CREATE TABLE public.other (id int PRIMARY KEY, v text)');
  const flowFile = writeFlowFile(
    dir,
    testFlow({
      id: 'gated',
      sourceDsn: source.dsn,
      slot: 'gated_slot',
      publication: 'gated_pub',
      tables: ['public.items', 'public.other'],
      destinations: [{ name: 'warehouse', type: 'duckdb', options: { dsn: duck } }],
    }),
  );
  expect((await runWorker(['-flow-file', flowFile, '-max-empty-reads', '1'], gated())).code).toBe(0);
  await source.query(`INSERT INTO public.items SELECT g, 'i' || g FROM generate_series(1, 20) g`);
  await source.query(`INSERT INTO public.other SELECT g, 'o' || g FROM generate_series(1, 20) g`);
  await runOnce();
  await expectEqual('items', ['id', 'v']);
});

afterAll(async () => {
  await source.drop();
  await state.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('DDL gate on', () => {
  let first: EventView;

  it('stops the changed table at the DDL (the other table goes on, the checkpoint stays before it)', async () => {
    await source.query('ALTER TABLE public.items ADD COLUMN extra int');
    await source.query(`INSERT INTO public.items SELECT g, 'i' || g, g * 10 FROM generate_series(21, 30) g`);
    await source.query(`INSERT INTO public.other SELECT g, 'o' || g FROM generate_series(21, 30) g`);
    const log = await runOnce();
    expect(log).toContain('table held until its schema change is applied');
    await expectEqual('other', ['id', 'v']);
    const held = await queryDuckDbFile(duck, 'SELECT count(*)::INT AS n, max(id) AS top FROM public.items');
    expect(held).toEqual([{ n: 20, top: 20 }]);
    const pending = await events('pending');
    expect(pending).toHaveLength(1);
    first = pending[0]!;
    expect(first).toMatchObject({ table: 'public.items', kind: 'add_column' });
    expect(await lsnBefore(await checkpointLsn(), first.lsn)).toBe(true);
    // A restart while waiting keeps it held and announces nothing new.
    await runOnce();
    expect(await events()).toHaveLength(1);
  });

  it('bad input: unknown id, a non-numeric id, apply before approve: one line, exit 2, nothing changed', async () => {
    const unknown = await runAdmin(['ddl', 'approve', '-id', '999'], gated());
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    expect(unknown.stderr).toContain('flag -id: DDL event 999 does not exist');
    const word = await runAdmin(['ddl', 'reject', '-id', 'abc'], gated());
    expect(word.code).toBe(2);
    expect(word.stderr).toContain('flag -id');
    const early = await runAdmin(['ddl', 'apply', '-id', String(first.id)], gated());
    expect(early.code).toBe(2);
    expect(early.stderr).toContain('is pending');
    const status = await runAdmin(['ddl', 'list', '-status', 'waiting'], gated());
    expect(status.code).toBe(2);
    expect(status.stderr).toContain('flag -status');
    expect((await events())[0]).toMatchObject({ id: first.id, status: 'pending' });
  });

  it('approve, then apply (after kill -9 while waiting): the table resumes from the DDL with nothing lost', async () => {
    // The worker waits for approval; kill -9 it while it does.
    const w = spawnBin(WORKER_BIN, ['-flow-id', 'gated'], gated());
    await w.waitForStderr(/replication started/);
    await source.query(`INSERT INTO public.items VALUES (31, 'i31', 310)`);
    await sleep(1500);
    w.child.kill('SIGKILL');
    await w.exited;

    const approved = await adminJson<EventView>(['ddl', 'approve', '-id', String(first.id)], gated());
    expect(approved).toMatchObject({ status: 'approved' });
    expect(approved.actor).not.toBe('');
    const again = await runAdmin(['ddl', 'approve', '-id', String(first.id)], gated());
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('is approved');
    expect((await runAdmin(['ddl', 'apply', '-id', String(first.id)], gated())).code).toBe(0);
    await runUntilApplied(first.id);
    await expectEqual('items', ['id', 'v', 'extra']);
    await expectEqual('other', ['id', 'v']);
    const applied = await runAdmin(['ddl', 'approve', '-id', String(first.id)], gated());
    expect(applied.code).toBe(2);
    expect(applied.stderr).toContain('is applied');
  });

  it('auto-approve and auto-apply skip the waits; kill -9 during the apply still converges', async () => {
    const auto = gated({ DUCTSTREAM_DDL_AUTO_APPROVE: 'true', DUCTSTREAM_DDL_AUTO_APPLY: 'true' });
    await source.query('ALTER TABLE public.items ADD COLUMN note text');
    await source.query(`INSERT INTO public.items VALUES (40, 'i40', 400, 'auto')`);
    const w = spawnBin(WORKER_BIN, ['-flow-id', 'gated'], auto);
    await w.waitForStderr(/schema change detected/);
    w.child.kill('SIGKILL'); // during (or right around) the apply
    await w.exited;
    const ev = await waitFor('the event', async () => (await events()).find((e) => e.kind === 'add_column' && e.id !== first.id));
    expect(ev.actor).toBe('auto');
    await runUntilApplied(ev.id, auto);
    await expectEqual('items', ['id', 'v', 'extra', 'note']);
  });

  it('a rejected change leaves the table stopped with the reason shown; other tables go on', async () => {
    await source.query('ALTER TABLE public.items ALTER COLUMN v TYPE varchar(3) USING left(v, 3)');
    await source.query(`INSERT INTO public.items VALUES (50, 'i50', 500, 'r')`);
    await source.query(`INSERT INTO public.other VALUES (50, 'o50')`);
    await runOnce();
    const ev = (await events('pending'))[0]!;
    expect(ev.kind).toBe('retype_column');
    const r = await adminJson<EventView>(['ddl', 'reject', '-id', String(ev.id), '-reason', 'narrowing v breaks the reports'], gated());
    expect(r).toMatchObject({ status: 'rejected', reason: 'narrowing v breaks the reports' });
    await runOnce();
    await expectEqual('other', ['id', 'v']);
    expect(await queryDuckDbFile(duck, 'SELECT count(*)::INT AS n FROM public.items WHERE id = 50')).toEqual([{ n: 0 }]);
    const listed = await runAdmin(['ddl', 'list', '-status', 'rejected'], gated());
    expect(listed.stdout).toContain('reason: narrowing v breaks the reports');
  });
});
