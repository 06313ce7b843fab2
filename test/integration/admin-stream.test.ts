/**
 * `./bin/ductstream-admin stream` end to end, as a separate process: source changes go through a
 * flow (worker binary) into a pgstream destination in its own database; the CLI, given nothing but
 * DUCTSTREAM_POSTGRES_DSN, finds the stream's database from the flow and pulls, acks, redelivers
 * after the visibility timeout and replays. Bad input exits 2 naming the flag; the stream
 * database's password never appears in any output.
 */
import { adminJson, runAdmin } from '../support/admin';
import { createPgstreamFlow, SECRET, type PgstreamFlowFixture } from '../support/pgstreamFlow';

let fx: PgstreamFlowFixture;
/**
 * Leases. Each CLI call is a process start; on a loaded machine one call took seconds, and a lease
 * that ran out before the next call made that call see redeliveries it did not expect. So a lease
 * that must not run out during the test (the first pull, acked in the next test; the other group's
 * pull, listed next) is far longer than the test, and the one the test waits out (the second pull's,
 * which must run out to show redelivery) outlasts the one CLI call that relies on it by a wide margin.
 */
const HELD_LEASE_S = 600;
const REDELIVERY_LEASE_S = 30;
let leaseEnds = 0;

interface PulledMessage {
  id: string;
  op: string;
  key: { id: string };
  table: string;
  schema: string;
  commit_time: string;
  commit_lsn: string;
  seq: number;
  format: string;
  delivery_count: number;
  leased_until: string;
  payload: { op: string; after: Record<string, unknown> | null; before: Record<string, unknown> | null; key: Record<string, unknown> };
}
interface Pulled {
  stream: string;
  group: string;
  group_created: boolean;
  messages: PulledMessage[];
}

const outputs: string[] = [];
async function admin(args: string[], env: NodeJS.ProcessEnv = fx.env) {
  const r = await runAdmin(args, env);
  outputs.push(r.stdout, r.stderr);
  return r;
}
async function json<T>(args: string[]): Promise<T> {
  const r = await adminJson<T>(args, fx.env);
  outputs.push(JSON.stringify(r));
  return r;
}

beforeAll(async () => {
  fx = await createPgstreamFlow('admin_stream', 'orders');
  await fx.source.query(`INSERT INTO public.orders SELECT g, 'customer ' || g, g * 10.25, NULL FROM generate_series(1, 5) g`);
  await fx.source.query(`UPDATE public.orders SET total = 99.99 WHERE id = 2`);
  await fx.source.query(`DELETE FROM public.orders WHERE id = 5`);
  await fx.sync();
}, 60_000);

afterAll(async () => {
  await fx?.close();
});

describe('ductstream-admin stream', () => {
  let first: PulledMessage[];

  test("pull finds the stream through the flow and leases events in stream order, payloads in the flow's format", async () => {
    const r = await json<Pulled>(['stream', 'pull', '-stream', 'orders', '-group', 'search', '-max', '3', '-visibility', String(HELD_LEASE_S)]);
    expect(r).toMatchObject({ stream: 'orders', group: 'search', group_created: true });
    first = r.messages;
    expect(first.map((m) => [m.op, m.key.id, m.delivery_count, m.format])).toEqual([
      ['insert', '1', 1, 'json'],
      ['insert', '2', 1, 'json'],
      ['insert', '3', 1, 'json'],
    ]);
    expect(first[1]!.payload).toMatchObject({ op: 'insert', after: { id: '2', customer: 'customer 2', total: '20.50', note: null } });
    expect(first[0]).toMatchObject({ schema: 'public', table: 'orders' });
    const rest = await json<Pulled>(['stream', 'pull', '-stream', 'orders', '-group', 'search', '-max', '10', '-visibility', String(REDELIVERY_LEASE_S)]);
    leaseEnds = Math.max(...rest.messages.map((m) => Date.parse(m.leased_until)));
    expect(rest.group_created).toBe(false);
    expect(rest.messages.map((m) => [m.op, m.key.id])).toEqual([
      ['insert', '4'],
      ['insert', '5'],
      ['update', '2'],
      ['delete', '5'],
    ]);
    expect(rest.messages[2]!.payload.after).toMatchObject({ total: '99.99' });
    const none = await admin(['stream', 'pull', '-stream', 'orders', '-group', 'search']);
    // Only meaningful inside the second pull's lease (a precondition about the machine, not the product).
    expect(Date.now()).toBeLessThan(leaseEnds);
    expect(none.code).toBe(0);
    expect(none.stdout).toContain('no messages available');
  });

  test('ack reports acked, already-acked and never-delivered ids, exit 0; unacked events come back after the timeout', async () => {
    const ids = first.map((m) => m.id);
    const r = await admin(['stream', 'ack', '-stream', 'orders', '-group', 'search', '-ids', ids.join(',')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`acked 3 (${ids.join(',')})`);
    const again = await json<{ acked: string[]; already_acked: string[]; not_delivered: string[] }>([
      'stream',
      'ack',
      '-stream',
      'orders',
      '-group',
      'search',
      '-ids',
      `${ids[0]},987654`,
    ]);
    expect(again).toMatchObject({ acked: [], already_acked: [ids[0]], not_delivered: ['987654'] });
    // Wait for the second pull's leases to run out (same machine: the database clock is ours).
    await new Promise((res) => setTimeout(res, Math.max(0, leaseEnds - Date.now()) + 300));
    const redelivered = await json<Pulled>(['stream', 'pull', '-stream', 'orders', '-group', 'search', '-max', '10', '-visibility', '30']);
    expect(redelivered.messages.map((m) => [m.key.id, m.delivery_count])).toEqual([
      ['4', 2],
      ['5', 2],
      ['2', 2],
      ['5', 2],
    ]);
    const done = await json<{ acked: string[] }>([
      'stream',
      'ack',
      '-stream',
      'orders',
      '-group',
      'search',
      '-ids',
      redelivered.messages.map((m) => m.id).join(','),
    ]);
    expect(done.acked).toHaveLength(4);
  });

  test("another group sees every event; list shows each group's backlog", async () => {
    const other = await json<Pulled>(['stream', 'pull', '-stream', 'orders', '-group', 'billing', '-max', '100', '-visibility', String(HELD_LEASE_S)]);
    expect(other.messages).toHaveLength(7);
    const list = await json<{
      streams: Array<{ name: string; events: number; location: string; groups: Array<{ name: string; pending: number; leased: number; acked: number }> }>;
    }>(['stream', 'list']);
    expect(list.streams).toHaveLength(1);
    expect(list.streams[0]).toMatchObject({ name: 'orders', events: 7 });
    expect(list.streams[0]!.location).toContain('****');
    expect(list.streams[0]!.groups.map((g) => [g.name, g.pending, g.leased, g.acked])).toEqual([
      ['billing', 7, 7, 0],
      ['search', 0, 0, 7],
    ]);
    const text = await admin(['stream', 'list']);
    expect(text.stdout).toMatch(/orders {2}7 events/);
    expect(text.stdout).toContain('group search: pending 0, leased 0, acked 7');
  });

  test('replay -since redelivers what was committed since then; -from-lsn by commit LSN', async () => {
    const since = first[2]!.commit_time; // the insert of id 3 (its own transaction with ids 1..5)
    const r = await admin(['stream', 'replay', '-stream', 'orders', '-group', 'search', '-since', since]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`7 events committed since ${since} made visible again; 7 pending`);
    const all = await json<Pulled>(['stream', 'pull', '-stream', 'orders', '-group', 'search', '-max', '100']);
    expect(all.messages.map((m) => m.key.id)).toEqual(['1', '2', '3', '4', '5', '2', '5']);
    await json(['stream', 'ack', '-stream', 'orders', '-group', 'search', '-ids', all.messages.map((m) => m.id).join(',')]);
    const update = all.messages[5]!;
    const byLsn = await json<{ reset: number; pending: number }>(['stream', 'replay', '-stream', 'orders', '-group', 'search', '-from-lsn', update.commit_lsn]);
    expect(byLsn).toMatchObject({ reset: 2, pending: 2 });
    const tail = await json<Pulled>(['stream', 'pull', '-stream', 'orders', '-group', 'search', '-max', '100']);
    expect(tail.messages.map((m) => m.op)).toEqual(['update', 'delete']);
  });

  test('-dsn reaches the stream without the flows', async () => {
    const r = await adminJson<Pulled>(['stream', 'pull', '-stream', 'orders', '-group', 'direct', '-max', '2', '-dsn', fx.streamDsn], {});
    expect(r.messages.map((m) => m.key.id)).toEqual(['1', '2']);
  });

  test('-h for every command and subcommand', async () => {
    for (const args of [['-h'], ['stream', '-h'], ['stream', 'pull', '-h'], ['stream', 'ack', '-h'], ['stream', 'replay', '-h'], ['stream', 'list', '-h']]) {
      const r = await admin(args);
      expect({ args, code: r.code }).toEqual({ args, code: 0 });
      expect(r.stdout).toMatch(/^usage: ductstream-admin/);
    }
    const pullHelp = (await admin(['stream', 'pull', '-h'])).stdout;
    for (const flag of ['-stream', '-group', '-max', '-visibility', '-json', '-dsn']) expect(pullHelp).toContain(`  ${flag} `);
    expect((await admin(['stream', 'ack', '-h'])).stdout).toContain('-ids 1,2,3');
    expect((await admin(['stream', 'replay', '-h'])).stdout).toContain('-since TIME');
  });

  test.each([
    [['stream', 'pull', '-stream', 'orders', '-group', 'g', '-max', '0'], 'flag -max: 0 is below the minimum 1'],
    [['stream', 'pull', '-stream', 'orders', '-group', 'g', '-max', '-4'], 'flag -max: -4 is below the minimum 1'],
    [['stream', 'pull', '-stream', 'orders', '-group', 'g', '-max', 'ten'], 'flag -max: "ten" is not a whole number'],
    [['stream', 'pull', '-stream', 'orders', '-group', 'g', '-visibility', '0'], 'flag -visibility: 0 is below the minimum 1'],
    [['stream', 'pull', '-stream', 'orders'], 'flag -group: is required'],
    [['stream', 'pull', '-stream', 'nope', '-group', 'g'], 'flag -stream: stream "nope" is not written by any flow'],
    [['stream', 'ack', '-stream', 'orders', '-group', 'g', '-ids', '1,two,3'], 'flag -ids: "two" is not an event id'],
    [['stream', 'ack', '-stream', 'orders', '-group', 'g', '-ids', '0'], 'flag -ids: "0" is not an event id'],
    [['stream', 'ack', '-stream', 'orders', '-group', 'g'], 'flag -ids is required'],
    [
      ['stream', 'ack', '-stream', 'orders', '-group', 'never-pulled', '-ids', '1'],
      'flag -group: consumer group "never-pulled" of stream "orders" does not exist',
    ],
    [['stream', 'replay', '-stream', 'orders', '-group', 'search', '-since', '2025-01-01 noon'], 'flag -since: "2025-01-01 noon" is not a timestamp'],
    [['stream', 'replay', '-stream', 'orders', '-group', 'search', '-since', '2025-02-30T00:00:00Z'], 'flag -since: "2025-02-30T00:00:00Z" is not a timestamp'],
    [['stream', 'replay', '-stream', 'orders', '-group', 'search', '-from-lsn', 'zz'], 'flag -from-lsn: "zz" is not an LSN'],
    [['stream', 'replay', '-stream', 'orders', '-group', 'search'], 'flag -since: is required'],
    [['stream', 'pull', '-stream', 'orders', '-group', 'g', '-bogus'], 'unknown flag -bogus'],
    [['stream', 'fetch'], 'unknown subcommand "stream fetch"'],
  ])('bad input %j exits 2: %s', async (args, message) => {
    const r = await admin(args);
    expect({ code: r.code, stderr: r.stderr.trim() }).toEqual({ code: 2, stderr: expect.stringContaining(message) });
  });

  test('without DUCTSTREAM_POSTGRES_DSN or -dsn: exit 2 naming it', async () => {
    const r = await admin(['stream', 'pull', '-stream', 'orders', '-group', 'g'], { DUCTSTREAM_POSTGRES_DSN: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('DUCTSTREAM_POSTGRES_DSN is required');
  });

  test('an unreachable -dsn fails with exit 1 and the password masked', async () => {
    const r = await admin(['stream', 'pull', '-stream', 'orders', '-group', 'g', '-dsn', `postgres://u:${SECRET}@127.0.0.1:1/x`], {});
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('postgres://u:****@127.0.0.1:1/x');
  });

  afterAll(() => {
    for (const o of outputs) expect(o).not.toContain(SECRET);
  });
});
