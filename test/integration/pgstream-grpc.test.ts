/**
 * ductstream.v1.StreamService end to end, served by `./bin/ductstream` (API only): source changes go
 * through a flow (worker binary) into a pgstream destination; gRPC clients pull, ack, see
 * redeliveries after the visibility timeout, replay, list backlogs, and get field-named errors.
 */
import { credentials, loadPackageDefinition, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadApiProtos } from '../../src/api/protos';
import { getCodec } from '../../src/wire/registry';
import { table } from '../support/changes';
import { createPgstreamFlow, SECRET, type PgstreamFlowFixture } from '../support/pgstreamFlow';
import { REPO_ROOT, spawnBin, type SpawnedProcess } from '../support/worker';

let fx: PgstreamFlowFixture;
let server: SpawnedProcess;
let address = '';
let firstLeaseEnd = 0;
let client: Client & Record<string, (req: unknown, cb: (e: ServiceError | null, r: unknown) => void) => void>;

interface Ts {
  seconds: string;
  nanos: number;
}
interface Msg {
  id: string;
  op: string;
  key_json: string;
  commit_lsn: string;
  commit_time: Ts;
  format: string;
  payload: Buffer;
  delivery_count: number;
  leased_until: Ts;
  table: string;
}
interface PullRes {
  stream: string;
  consumer_group: string;
  group_created: boolean;
  messages: Msg[];
}

function call<T>(method: string, req: unknown): Promise<T> {
  return new Promise((resolve, reject) => client[method]!(req, (e, r) => (e ? reject(e) : resolve(r as T))));
}
async function failure(method: string, req: unknown): Promise<{ code: number; details: string; field: unknown }> {
  const e = await call(method, req).then(
    () => undefined,
    (err: ServiceError) => err,
  );
  if (!e) throw new Error(`${method} succeeded`);
  return { code: e.code, details: e.details, field: (e.metadata ?? new Metadata()).get('ductstream-field')[0] };
}
const pull = (group: string, max: number, vis: number, extra: Record<string, unknown> = {}) =>
  call<PullRes>('Pull', { stream: 'orders', consumer_group: group, max_messages: max, visibility_timeout_seconds: vis, ...extra });
const keyIds = (ms: Msg[]) => ms.map((m) => (JSON.parse(m.key_json) as { id: string }).id);

beforeAll(async () => {
  fx = await createPgstreamFlow('grpc_stream', 'orders', 'proto');
  await fx.source.query(`INSERT INTO public.orders SELECT g, 'c' || g, g, NULL FROM generate_series(1, 40) g`);
  await fx.source.query(`UPDATE public.orders SET note = 'late' WHERE id = 40`);
  await fx.sync();
  server = spawnBin(join(REPO_ROOT, 'bin', 'ductstream'), [], { ...fx.env, DUCTSTREAM_GRPC_LISTEN: '127.0.0.1:0', DUCTSTREAM_DBOS_ENABLED: 'false' });
  await server.waitForStderr(/serving gRPC on 127\.0\.0\.1:\d+/, 60_000);
  address = /serving gRPC on (127\.0\.0\.1:\d+)/.exec(server.output().stderr)![1]!;
  const pkg = loadPackageDefinition(loadApiProtos()) as unknown as {
    ductstream: { v1: { StreamService: new (addr: string, creds: ReturnType<typeof credentials.createInsecure>) => typeof client } };
  };
  client = new pkg.ductstream.v1.StreamService(address, credentials.createInsecure());
}, 150_000);

afterAll(async () => {
  client?.close();
  if (server) {
    server.child.kill('SIGTERM');
    await server.exited;
    expect(server.output().stderr).not.toContain(SECRET);
  }
  await fx?.close();
});

describe('StreamService over gRPC', () => {
  test('reflection lists its methods; buf curl pulls and replays with JSON (RFC 3339 since)', async () => {
    const buf = (args: string[]) =>
      promisify(execFile)(join(REPO_ROOT, 'node_modules', '.bin', 'buf'), ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', ...args]);
    const methods = (await buf(['--list-methods', `http://${address}`])).stdout.trim().split('\n');
    for (const m of ['Pull', 'Ack', 'Replay', 'ListStreams']) expect(methods).toContain(`ductstream.v1.StreamService/${m}`);
    const pulled = JSON.parse(
      (await buf(['-d', '{"stream":"orders","consumer_group":"curl","max_messages":2}', `http://${address}/ductstream.v1.StreamService/Pull`])).stdout,
    ) as { messages: Array<{ id: string }> };
    expect(pulled.messages.map((m) => m.id)).toEqual(['1', '2']);
    const replayed = JSON.parse(
      (await buf(['-d', '{"stream":"orders","consumer_group":"curl","since":"2000-01-01T00:00:00Z"}', `http://${address}/ductstream.v1.StreamService/Replay`]))
        .stdout,
    ) as { reset?: string; pending?: string };
    expect(replayed).toEqual({ pending: '41' });
  });

  test('Pull leases in stream order, proto payloads, defaults for unset max and visibility', async () => {
    const r = await pull('search', 5, 4);
    firstLeaseEnd = Math.max(...r.messages.map((m) => Number(m.leased_until.seconds) * 1000 + m.leased_until.nanos / 1e6));
    expect(r).toMatchObject({ stream: 'orders', consumer_group: 'search', group_created: true });
    expect(keyIds(r.messages)).toEqual(['1', '2', '3', '4', '5']);
    expect(r.messages[0]).toMatchObject({ op: 'insert', format: 'proto', table: 'orders', delivery_count: 1 });
    const orders = table('public.orders', { id: 'int8', customer: 'text', total: 'numeric(12,2)', note: 'text' }, { primaryKey: ['id'] });
    expect(getCodec('proto').decodeMessage(r.messages[2]!.payload, orders)).toMatchObject({
      op: 'insert',
      schema: 'public',
      table: 'orders',
      key: { id: 3n },
      after: { id: 3n, customer: 'c3', total: '3.00', note: null },
      commit_lsn: r.messages[2]!.commit_lsn,
    });
    const lease = Number(r.messages[0]!.leased_until.seconds) - Number(r.messages[0]!.commit_time.seconds);
    expect(lease).toBeGreaterThan(0);
    const defaults = await call<PullRes>('Pull', { stream: 'orders', consumer_group: 'search' });
    expect(keyIds(defaults.messages)).toEqual(['6', '7', '8', '9', '10', '11', '12', '13', '14', '15']);
    await call('Ack', { stream: 'orders', consumer_group: 'search', ids: defaults.messages.map((m) => m.id) });
  });

  test('Ack reports per id; an unacked event comes back after its lease with a higher delivery count', async () => {
    await new Promise((res) => setTimeout(res, Math.max(0, firstLeaseEnd - Date.now()) + 300));
    const again = await pull('search', 5, 30);
    expect(keyIds(again.messages)).toEqual(['1', '2', '3', '4', '5']);
    expect(again.messages.map((m) => m.delivery_count)).toEqual([2, 2, 2, 2, 2]);
    const ids = again.messages.map((m) => m.id);
    expect(await call('Ack', { stream: 'orders', consumer_group: 'search', ids })).toEqual({ acked: ids, already_acked: [], not_delivered: [] });
    expect(await call('Ack', { stream: 'orders', consumer_group: 'search', ids: [ids[0], '777777'] })).toEqual({
      acked: [],
      already_acked: [ids[0]],
      not_delivered: ['777777'],
    });
  });

  test('parallel gRPC consumers of one group split the rest with no event leased twice', async () => {
    const seen: string[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        for (;;) {
          const r = await pull('search', 3, 60, { consumer_id: `worker-${i}` });
          if (r.messages.length === 0) return;
          seen.push(...keyIds(r.messages));
          await call('Ack', { stream: 'orders', consumer_group: 'search', ids: r.messages.map((m) => m.id) });
        }
      }),
    );
    const expected = [...Array.from({ length: 25 }, (_, i) => String(i + 16)), '40'];
    expect([...seen].sort()).toEqual([...expected].sort());
  });

  test('Replay by time and by LSN; ListStreams shows the backlog', async () => {
    const ref = await pull('audit', 50, 60);
    expect(ref.messages).toHaveLength(41);
    const update = ref.messages[40]!;
    expect(update.op).toBe('update');
    await call('Ack', { stream: 'orders', consumer_group: 'audit', ids: ref.messages.map((m) => m.id) });
    const byTime = await call<{ reset: string; pending: string }>('Replay', { stream: 'orders', consumer_group: 'audit', since: update.commit_time });
    expect(byTime).toEqual({ reset: '1', pending: '1' });
    expect(keyIds((await pull('audit', 50, 60)).messages)).toEqual(['40']);
    const byLsn = await call<{ reset: string; pending: string }>('Replay', {
      stream: 'orders',
      consumer_group: 'audit',
      from_lsn: ref.messages[0]!.commit_lsn,
    });
    expect(byLsn).toEqual({ reset: '40', pending: '41' });
    const list = await call<{
      streams: Array<{
        name: string;
        events: string;
        format: string;
        location: string;
        groups: Array<{ name: string; pending: string; leased: string; acked: string }>;
      }>;
    }>('ListStreams', {});
    expect(list.streams).toHaveLength(1);
    expect(list.streams[0]).toMatchObject({ name: 'orders', events: '41', format: 'proto' });
    expect(list.streams[0]!.location).not.toContain(SECRET);
    expect(list.streams[0]!.groups.map((g) => [g.name, g.pending, g.leased])).toEqual([
      ['audit', '41', '1'],
      ['curl', '41', '2'],
      ['search', '0', '0'],
    ]);
  });

  test('bad requests are INVALID_ARGUMENT naming the field; unknown stream or group NOT_FOUND', async () => {
    const base = { stream: 'orders', consumer_group: 'g' };
    expect(await failure('Pull', { ...base, max_messages: -1 })).toMatchObject({ code: 3, field: 'max_messages' });
    expect(await failure('Pull', { ...base, visibility_timeout_seconds: -5 })).toMatchObject({ code: 3, field: 'visibility_timeout_seconds' });
    expect(await failure('Pull', { ...base, max_messages: 20000 })).toMatchObject({ code: 3, field: 'max_messages' });
    expect(await failure('Pull', { stream: '', consumer_group: 'g' })).toMatchObject({ code: 3, field: 'stream' });
    expect(await failure('Pull', { stream: 'nope', consumer_group: 'g' })).toMatchObject({ code: 5, field: 'stream' });
    expect(await failure('Ack', { ...base, ids: [] })).toMatchObject({ code: 3, field: 'ids' });
    expect(await failure('Ack', { stream: 'orders', consumer_group: 'ghost', ids: ['1'] })).toMatchObject({ code: 5, field: 'consumer_group' });
    expect(await failure('Replay', { stream: 'orders', consumer_group: 'audit' })).toMatchObject({ code: 3, field: 'since' });
    expect(await failure('Replay', { stream: 'orders', consumer_group: 'audit', from_lsn: 'nope' })).toMatchObject({ code: 3, field: 'from_lsn' });
    expect(await failure('Replay', { stream: 'orders', consumer_group: 'audit', since: { seconds: '1', nanos: -1 } })).toMatchObject({
      code: 3,
      field: 'since',
    });
  });
});
