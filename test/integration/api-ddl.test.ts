/**
 * DDLService, PublicationService and DeleteFlow {drop_slot, drop_publication} over gRPC against the
 * real server binary: decisions land in ductstream.ddl_events (read back), bad input is
 * INVALID_ARGUMENT / NOT_FOUND / FAILED_PRECONDITION and changes nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { queryDuckDbFile } from '../support/duckdbFile';
import { runWorker } from '../support/worker';
import { flowClient, startApiServer, type ApiServerProcess, type FlowClient } from '../support/api';
import { createTestDatabase, type TestDatabase } from '../support/pg';

let state: TestDatabase;
let source: TestDatabase;
let server: ApiServerProcess;
let ddl: FlowClient;
let pubs: FlowClient;
let flows: FlowClient;

beforeAll(async () => {
  state = await createTestDatabase('api_ddl_state');
  source = await createTestDatabase('api_ddl_src');
  await source.query('CREATE TABLE public.t (id int PRIMARY KEY)');
  // Workers run this file's flows: the server's supervisor would start a run for a flow left
  // `running` by a worker that exited, and take the DuckDB file the next worker opens.
  server = await startApiServer({ DUCTSTREAM_POSTGRES_DSN: state.dsn, DUCTSTREAM_SUPERVISOR_INTERVAL: '3600' });
  ddl = flowClient(server.address, 'DDLService');
  pubs = flowClient(server.address, 'PublicationService');
  flows = flowClient(server.address, 'FlowService');
  await state.query(
    `INSERT INTO ductstream.ddl_events (flow_id, lsn, table_schema, table_name, kind, changes, status) VALUES ('f1', '0/16B6C50', 'public', 't', 'add_column', '[]', 'pending')`,
  );
});

afterAll(async () => {
  ddl?.close();
  pubs?.close();
  flows?.close();
  await server?.stop();
  await state.drop();
  await source.drop();
});

async function statusOf(id: number): Promise<{ status: string; actor: string; reason: string }> {
  const [r] = await state.query<{ status: string; actor: string; reason: string }>('SELECT status, actor, reason FROM ductstream.ddl_events WHERE id = $1', [
    id,
  ]);
  return r!;
}

describe('DDLService', () => {
  it('lists, approves, refuses a second approval, and rejects with a reason', async () => {
    const list = await ddl.call<{ events: Array<{ id: string; status: string; table: string; lsn: string }> }>('ListDDL', { status: 'pending' });
    expect(list.events).toHaveLength(1);
    expect(list.events[0]).toMatchObject({ status: 'pending', table: 'public.t', lsn: '0/16B6C50' });
    const id = Number(list.events[0]!.id);
    const approved = await ddl.call<{ status: string; actor: string }>('ApproveDDL', { id, actor: 'alice' });
    expect(approved).toMatchObject({ status: 'approved', actor: 'alice' });
    expect(await statusOf(id)).toMatchObject({ status: 'approved', actor: 'alice' });
    const again = await ddl.fail('ApproveDDL', { id });
    expect(again.code).toBe(status.FAILED_PRECONDITION);
    expect(again.details).toContain('is approved');
    await ddl.call('RejectDDL', { id, actor: 'bob', reason: 'not now' });
    expect(await statusOf(id)).toEqual({ status: 'rejected', actor: 'bob', reason: 'not now' });
  });

  it('bad input changes nothing: unknown id, bad status, apply of a rejected event', async () => {
    expect((await ddl.fail('ApproveDDL', { id: 4242 })).code).toBe(status.NOT_FOUND);
    const bad = await ddl.fail('ListDDL', { status: 'waiting' });
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
    expect(bad.details).toContain('status');
    const id = (await state.query<{ id: string }>('SELECT id::text AS id FROM ductstream.ddl_events LIMIT 1'))[0]!.id;
    expect((await ddl.fail('ApplyDDL', { id: Number(id) })).code).toBe(status.FAILED_PRECONDITION);
    expect(await statusOf(Number(id))).toMatchObject({ status: 'rejected' });
  });
});

describe('PublicationService and DeleteFlow', () => {
  const flow = () => ({
    id: 'api-pub',
    name: 'api pub',
    source: { name: 'pg', type: 'postgres', options: { dsn: source.dsn, slot: 'api_pub_slot', publication: 'api_pub', publication_tables: 'public.t' } },
    destinations: [{ name: 'w', type: 'pgstream', options: { dsn: state.dsn } }],
    wire_format: 'json',
    parallelism: 1,
  });

  it('SyncPublication validates (INVALID_ARGUMENT naming the field); DeleteFlow drops slot and publication', async () => {
    await flows.call('CreateFlow', { flow: flow() });
    const none = await pubs.fail('SyncPublication', { flow_id: 'api-pub', mode: 'add' });
    expect(none.code).toBe(status.INVALID_ARGUMENT);
    expect(none.details).toContain('schemas');
    const mode = await pubs.fail('SyncPublication', { flow_id: 'api-pub', tables: 'public.t', mode: 'merge' });
    expect(mode.code).toBe(status.INVALID_ARGUMENT);
    expect(mode.details).toContain('mode');

    await source.query(`CREATE PUBLICATION api_pub FOR TABLE public.t`);
    await source.query(`SELECT pg_create_logical_replication_slot('api_pub_slot', 'pgoutput')`);
    const listed = await pubs.call<{ tables: Array<{ table: string; in_publication: boolean; in_flow: boolean }> }>('ListPublication', { flow_id: 'api-pub' });
    expect(listed.tables).toEqual([{ table: 'public.t', in_publication: true, in_flow: true }]);
    const r = await flows.call('DeleteFlow', { flow_id: 'api-pub', drop_slot: true, drop_publication: true });
    expect(r).toEqual({ slot_dropped: true, publication_dropped: true });
    expect(await source.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = 'api_pub_slot'`)).toEqual([]);
    expect(await source.query(`SELECT 1 FROM pg_publication WHERE pubname = 'api_pub'`)).toEqual([]);
    expect((await flows.fail('GetFlow', { flow_id: 'api-pub' })).code).toBe(status.NOT_FOUND);
  });
});

describe('PublicationService.SyncPublication', () => {
  it('adds a table through the publicationSync workflow on the server; its rows then reach the destination', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ductstream-api-pubsync-'));
    const duck = join(dir, 'sync.duckdb');
    try {
      await source.query('CREATE TABLE public.s1 (id int PRIMARY KEY, v text)');
      await source.query('CREATE TABLE public.s2 (id int PRIMARY KEY, v text)');
      const flow = {
        id: 'api-sync',
        name: 'api sync',
        source: {
          name: 'pg',
          type: 'postgres',
          options: { dsn: source.dsn, slot: 'api_sync_slot', publication: 'api_sync_pub', publication_tables: 'public.s1', batch_timeout: '200ms' },
        },
        destinations: [{ name: 'w', type: 'duckdb', options: { dsn: duck } }],
        wire_format: 'json',
        parallelism: 1,
      };
      await flows.call('CreateFlow', { flow });
      const env = { DUCTSTREAM_POSTGRES_DSN: state.dsn };
      const once = async () => {
        const r = await runWorker(['-flow-id', 'api-sync', '-max-empty-reads', '1'], env);
        if (r.code !== 0) throw new Error(`worker exited ${r.code}: ${r.stderr.slice(-2000)}`);
      };
      await once(); // creates the publication (s1) and the slot
      const r = await pubs.call<{ flow_id: string; added: string[]; dropped: string[] }>('SyncPublication', {
        flow_id: 'api-sync',
        tables: 'public.s2',
        mode: 'add',
      });
      expect(r).toMatchObject({ flow_id: 'api-sync', added: ['public.s2'] });
      expect(await source.query(`SELECT tablename FROM pg_publication_tables WHERE pubname = 'api_sync_pub' ORDER BY 1`)).toEqual([
        { tablename: 's1' },
        { tablename: 's2' },
      ]);
      const stored = await flows.call<{ source: { options: Record<string, string> } }>('GetFlow', { flow_id: 'api-sync' });
      expect(stored.source.options.publication_tables).toBe('public.s1,public.s2');
      const listed = await pubs.call<{ tables: Array<{ table: string; in_publication: boolean; in_flow: boolean }> }>('ListPublication', {
        flow_id: 'api-sync',
      });
      expect(listed.tables).toEqual([
        { table: 'public.s1', in_publication: true, in_flow: true },
        { table: 'public.s2', in_publication: true, in_flow: true },
      ]);
      await source.query(`INSERT INTO public.s2 SELECT g, 'v' || g FROM generate_series(1, 5) g`);
      await once();
      const src = await source.query('SELECT id, v FROM public.s2 ORDER BY id');
      expect(await queryDuckDbFile(duck, 'SELECT id, v FROM public.s2 ORDER BY id')).toEqual(src);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
