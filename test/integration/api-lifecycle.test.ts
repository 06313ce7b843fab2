/**
 * Flow lifecycle through the real server and a grpc-js client: created → running (rows arrive
 * in DuckDB) ⇄ paused (the run ends after its batch, the checkpoint stays, nothing moves) →
 * resumed from the checkpoint → updated while running (state and checkpoint kept, the run restarts
 * on the new definition) → stopped; RunFlowOnce on a created flow; ListFlowRuns/GetFlowRun.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { flowClient, startApiServer, waitFor, type ApiServerProcess, type FlowClient } from '../support/api';
import { queryDuckDbFile } from '../support/duckdbFile';
import { testFlow } from '../support/flows';
import { createTestDatabase, type TestDatabase } from '../support/pg';

let source: TestDatabase;
let state: TestDatabase;
let dir: string;
let server: ApiServerProcess;
let api: FlowClient;

interface RunMsg {
  run_id: string;
  status: string;
  end: string;
  rows: string;
  on_bound: string;
  max_empty_reads: number;
  executor_id: string;
  queue_name: string;
  successor_run_id: string;
}
interface FlowMsg {
  id: string;
  state: string;
  state_reason?: string;
  source: { options: Record<string, string> };
}

beforeAll(async () => {
  source = await createTestDatabase('api_life_src');
  state = await createTestDatabase('api_life_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-api-life-'));
  await source.query('CREATE TABLE public.items (id bigint PRIMARY KEY, v text NOT NULL)');
  await source.query('CREATE TABLE public.once_items (id bigint PRIMARY KEY, v text NOT NULL)');
  server = await startApiServer({
    DUCTSTREAM_POSTGRES_DSN: state.dsn,
    DBOS__VMID: 'api-lifecycle-test',
    DUCTSTREAM_SUPERVISOR_INTERVAL: '1',
    DUCTSTREAM_STEP_MAX_ATTEMPTS: '2',
  });
  api = flowClient(server.address);
});

afterAll(async () => {
  api?.close();
  await server?.stop();
  await source.drop();
  await state.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `sql` in a transaction and returns a WAL position its commit record comes after. */
async function change(sql: string, params: unknown[] = []): Promise<string> {
  await source.query('BEGIN');
  await source.query(sql, params);
  const { lsn } = (await source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn'))[0]!;
  await source.query('COMMIT');
  return lsn;
}

async function checkpointPast(flowId: string, lsn: string): Promise<boolean> {
  const rows = await state.query<{ ok: boolean }>('SELECT lsn >= $2::pg_lsn AS ok FROM ductstream.checkpoints WHERE flow_id = $1', [flowId, lsn]);
  return rows[0]?.ok === true;
}

async function checkpointOf(flowId: string): Promise<string | undefined> {
  return (await state.query<{ lsn: string }>('SELECT lsn::text AS lsn FROM ductstream.checkpoints WHERE flow_id = $1', [flowId]))[0]?.lsn;
}

async function runs(flowId: string): Promise<RunMsg[]> {
  return (await api.call<{ runs: RunMsg[] }>('ListFlowRuns', { flow_id: flowId, page_size: 100 })).runs;
}

/** Waits until the flow has no active run and returns its newest run. */
async function lastRunEnded(flowId: string): Promise<RunMsg> {
  return waitFor(
    `the runs of ${flowId} to end`,
    async () => {
      const all = await runs(flowId);
      return all.length > 0 && all.every((r) => !['ENQUEUED', 'PENDING'].includes(r.status)) ? all[0] : null;
    },
    30_000,
  );
}

async function sourceRows(table: string): Promise<Array<{ id: string; v: string }>> {
  return source.query(`SELECT id::text AS id, v FROM public.${table} ORDER BY id`);
}

async function duckRows(file: string, table: string): Promise<Array<{ id: string; v: string }>> {
  return (await queryDuckDbFile(file, `SELECT id::VARCHAR AS id, v FROM public.${table} ORDER BY id`)) as Array<{ id: string; v: string }>;
}

const insert = (from: number, to: number, table = 'items') =>
  change(`INSERT INTO public.${table} SELECT g, 'v' || g FROM generate_series($1::int, $2::int) g`, [from, to]);

describe('a streaming flow', () => {
  const duck = () => join(dir, 'life.duckdb');
  const flow = () =>
    testFlow({
      id: 'life',
      sourceDsn: source.dsn,
      slot: 'life_slot',
      publication: 'life_pub',
      tables: ['public.items'],
      destinations: [{ name: 'wh', type: 'duckdb', options: { dsn: duck() } }],
    });

  it('starts on CreateFlow{start_immediately}: a run streams and rows arrive', async () => {
    const created = await api.call<FlowMsg>('CreateFlow', { flow: flow(), start_immediately: true });
    expect(created.state).toBe('running');
    await waitFor('the slot', async () => (await source.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = 'life_slot'`)).length > 0);
    const mark = await insert(1, 2000);
    await change(`UPDATE public.items SET v = v || '!' WHERE id % 10 = 0`);
    const last = await change('DELETE FROM public.items WHERE id % 7 = 0');
    expect(mark).toBeTruthy();
    await waitFor('the checkpoint to pass the changes', () => checkpointPast('life', last), 30_000);
    const [run] = await runs('life');
    expect(run).toMatchObject({ status: 'PENDING', on_bound: 'successor', max_empty_reads: 0, executor_id: 'api-lifecycle-test', queue_name: 'ductstream' });
    // StartFlow on a running flow enqueues nothing new.
    await api.call('StartFlow', { flow_id: 'life' });
    expect((await runs('life')).filter((r) => ['ENQUEUED', 'PENDING'].includes(r.status))).toHaveLength(1);
  });

  it('PauseFlow ends the run after its batch; nothing moves while paused; the checkpoint stays', async () => {
    expect((await api.call<FlowMsg>('PauseFlow', { flow_id: 'life' })).state).toBe('paused');
    const ended = await lastRunEnded('life');
    expect(ended).toMatchObject({ status: 'SUCCESS', end: 'paused' });
    expect(await duckRows(duck(), 'items')).toEqual(await sourceRows('items'));
    const atPause = await checkpointOf('life');
    await insert(2001, 3000);
    await new Promise((r) => setTimeout(r, 2500));
    expect(await checkpointOf('life')).toBe(atPause);
    expect((await runs('life')).filter((r) => ['ENQUEUED', 'PENDING'].includes(r.status))).toHaveLength(0);
    expect((await duckRows(duck(), 'items')).length).toBe(2000 - Math.floor(2000 / 7));
    // Pausing twice is fine; starting a paused flow is not (ResumeFlow is the way).
    expect((await api.call<FlowMsg>('PauseFlow', { flow_id: 'life' })).state).toBe('paused');
    expect((await api.fail('StartFlow', { flow_id: 'life' })).code).toBe(status.FAILED_PRECONDITION);
  });

  it('ResumeFlow continues from the checkpoint', async () => {
    const before = (await runs('life')).length;
    expect((await api.call<FlowMsg>('ResumeFlow', { flow_id: 'life' })).state).toBe('running');
    const last = await change(`UPDATE public.items SET v = 'resumed' WHERE id = 2001`);
    await waitFor('the checkpoint after resume', () => checkpointPast('life', last));
    const all = await runs('life');
    expect(all.length).toBe(before + 1);
    expect(all[0]!.status).toBe('PENDING');
    const prepared = server.proc
      .output()
      .stderr.split('\n')
      .filter((l) => /flow run prepared .*flow=life /.test(l));
    expect(prepared.length).toBe(2);
    expect(prepared[1]).not.toMatch(/checkpoint=none/);
  });

  it('UpdateFlow while running keeps state and checkpoint; the run restarts on the new definition', async () => {
    const current = await api.call<FlowMsg>('GetFlow', { flow_id: 'life' });
    const ckBefore = await checkpointOf('life');
    const updated = await api.call<FlowMsg>('UpdateFlow', {
      flow: { ...current, source: { ...current.source, options: { ...current.source.options, batch_size: '50' } } },
    });
    expect(updated.state).toBe('running');
    // UpdateFlow answered once the run switched: no pending note, and the old run already handed over.
    expect(updated.state_reason ?? '').toBe('');
    // The checkpoint is kept: the successor continued from it (an idle stream's keepalives may have moved it on since).
    expect(await checkpointPast('life', ckBefore!)).toBe(true);
    const prepared = server.proc
      .output()
      .stderr.split('\n')
      .filter((l) => /flow run prepared .*flow=life /.test(l));
    const startLsn = /start_lsn=(\S+)/.exec(prepared[prepared.length - 1]!)![1]!;
    const [cmp] = await state.query<{ ok: boolean }>('SELECT $1::pg_lsn >= $2::pg_lsn AS ok', [startLsn, ckBefore]);
    expect(cmp!.ok).toBe(true);
    const [newest, previous] = await runs('life');
    expect(newest?.status).toBe('PENDING');
    expect(previous).toMatchObject({ status: 'SUCCESS', end: 'updated', successor_run_id: newest?.run_id });
    const last = await insert(3001, 3500);
    await waitFor('the checkpoint after the update', () => checkpointPast('life', last));
    const { batch_size } = (
      await state.query<{ batch_size: string }>(`SELECT source->'options'->>'batch_size' AS batch_size FROM ductstream.flows WHERE id = 'life'`)
    )[0]!;
    expect(batch_size).toBe('50');
  });

  it('StopFlow ends the run; the destination equals the source; runs page by page', async () => {
    expect((await api.call<FlowMsg>('StopFlow', { flow_id: 'life' })).state).toBe('stopped');
    expect(await lastRunEnded('life')).toMatchObject({ status: 'SUCCESS', end: 'stopped' });
    expect(await duckRows(duck(), 'items')).toEqual(await sourceRows('items'));
    const ids: string[] = [];
    let token = '';
    do {
      const page = await api.call<{ runs: RunMsg[]; next_page_token: string }>('ListFlowRuns', { flow_id: 'life', page_size: 1, page_token: token });
      ids.push(...page.runs.map((r) => r.run_id));
      token = page.next_page_token;
    } while (token);
    expect(ids).toEqual((await runs('life')).map((r) => r.run_id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThanOrEqual(3);
    const got = await api.call<RunMsg & { flow_id: string }>('GetFlowRun', { flow_id: 'life', run_id: ids[0] });
    expect(got).toMatchObject({ run_id: ids[0], flow_id: 'life', status: 'SUCCESS', end: 'stopped' });
    expect((await api.fail('GetFlowRun', { flow_id: 'other', run_id: ids[0] })).code).toBe(status.NOT_FOUND);
  });
});

describe('RunFlowOnce', () => {
  it('runs a created flow once until an empty read; its state stays created', async () => {
    const duck = join(dir, 'once.duckdb');
    await api.call('CreateFlow', {
      flow: testFlow({
        id: 'once',
        sourceDsn: source.dsn,
        slot: 'once_slot',
        publication: 'once_pub',
        tables: ['public.once_items'],
        destinations: [{ name: 'wh', type: 'duckdb', options: { dsn: duck } }],
      }),
    });
    const first = await api.call<RunMsg>('RunFlowOnce', { flow_id: 'once' });
    expect(first).toMatchObject({ status: 'ENQUEUED', max_empty_reads: 1, on_bound: 'end' });
    const busy = await api.fail('RunFlowOnce', { flow_id: 'once' });
    expect(busy.code).toBe(status.FAILED_PRECONDITION);
    expect(busy.details).toContain(first.run_id);
    expect(await lastRunEnded('once')).toMatchObject({ run_id: first.run_id, status: 'SUCCESS', end: 'empty', rows: '0' });

    await insert(1, 500, 'once_items');
    const second = await api.call<RunMsg>('RunFlowOnce', { flow_id: 'once' });
    const ended = await lastRunEnded('once');
    expect(ended).toMatchObject({ run_id: second.run_id, status: 'SUCCESS', end: 'empty', rows: '500' });
    expect(await duckRows(duck, 'once_items')).toEqual(await sourceRows('once_items'));
    expect((await api.call<FlowMsg>('GetFlow', { flow_id: 'once' })).state).toBe('created');
  });
});

describe('a failing flow', () => {
  it('ends in state failed with the reason (no secret); the run is ERROR; StartFlow tries again', async () => {
    const broken = testFlow({
      id: 'broken',
      sourceDsn: 'postgres://app:top-secret-pw@127.0.0.1:1/app',
      slot: 'broken_slot',
      publication: 'broken_pub',
      tables: ['public.items'],
      destinations: [{ name: 'wh', type: 'duckdb', options: { dsn: ':memory:' } }],
    });
    await api.call('CreateFlow', { flow: broken, start_immediately: true });
    const failed = await waitFor('the flow to fail', async () => {
      const f = await api.call<FlowMsg & { state_reason: string }>('GetFlow', { flow_id: 'broken' });
      return f.state === 'failed' ? f : null;
    });
    expect(failed.state_reason).toMatch(/127\.0\.0\.1:1|ECONNREFUSED|connect/i);
    const [run] = await runs('broken');
    expect(run!.status).toBe('ERROR');
    expect((run as RunMsg & { error: string }).error).toMatch(/broken/);
    expect(JSON.stringify([failed, run])).not.toContain('top-secret-pw');
    expect(server.proc.output().stderr).not.toContain('top-secret-pw');
    // A failed flow may be started again (after fixing its cause); here it fails again.
    expect((await api.call<FlowMsg>('StartFlow', { flow_id: 'broken' })).state).toBe('running');
    await waitFor(
      'the second failure',
      async () => (await runs('broken')).length === 2 && (await api.call<FlowMsg>('GetFlow', { flow_id: 'broken' })).state === 'failed',
    );
    expect((await api.call<FlowMsg>('StopFlow', { flow_id: 'broken' })).state).toBe('stopped');
  });
});
