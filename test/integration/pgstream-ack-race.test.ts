/**
 * pgstream acks racing re-leases, against a real PostgreSQL: an ack that meets a pull re-leasing
 * the same event must still ack it, and with many connections pulling and acking (short leases,
 * late acks) every event ends acked exactly as the acks reported.
 */
import { Client } from 'pg';
import { silentLogger } from '../../src/core/log';
import { getDestinationKind } from '../../src/destinations';
import type { PgstreamDestination } from '../../src/destinations/pgstream/destination';
import { toEncodedBatch } from '../../src/pipeline/encodedBatch';
import { StreamService } from '../../src/services/streams';
import { getCodec } from '../../src/wire/registry';
import { ChangeLog, table } from '../support/changes';
import { createTestDatabase, type TestDatabase } from '../support/pg';

let db: TestDatabase;
const closers: Array<() => Promise<void>> = [];
const items = table('public.items', { id: 'int8', v: 'text' }, { primaryKey: ['id'] });

beforeAll(async () => {
  db = await createTestDatabase('pgstream_ack_race');
});

afterAll(async () => {
  for (const c of closers) await c();
  await db.drop();
});

function service(): StreamService {
  const s = new StreamService({ dsn: db.dsn, poolMax: 2 });
  closers.push(() => s.close());
  return s;
}

async function streamWith(name: string, n: number, startLsn: bigint): Promise<void> {
  const kind = getDestinationKind('pgstream', 'destinations[0].type');
  const dest = (await kind.create(kind.parseConfig({ dsn: db.dsn, stream: name }, 'o'), {
    flowId: 'f',
    name,
    wireFormat: 'json',
    parallelism: 1,
    log: silentLogger,
  })) as PgstreamDestination;
  closers.push(() => dest.close());
  await dest.open();
  const log = new ChangeLog('f', startLsn);
  for (let i = 1; i <= n; i += 10) log.tx((t) => Array.from({ length: 10 }, (_x, k) => t.insert(items, { id: BigInt(i + k), v: `v${i + k}` })));
  await dest.write(toEncodedBatch(log.batch(), (f) => getCodec(f)));
}

async function ackedAt(stream: string): Promise<Map<string, boolean>> {
  const rows = await db.query<{ id: string; acked: boolean }>(
    `SELECT e.id::text AS id, d.acked_at IS NOT NULL AS acked FROM ductstream_stream.events e
       JOIN ductstream_stream.streams s ON s.id = e.stream_id AND s.name = $1
       LEFT JOIN ductstream_stream.deliveries d ON d.event_id = e.id
       LEFT JOIN ductstream_stream.groups g ON g.id = d.group_id AND g.name = 'g'`,
    [stream],
  );
  return new Map(rows.map((r) => [r.id, r.acked]));
}

test('an ack that waits for a pull re-leasing the event acks it (it is not reported already_acked and lost)', async () => {
  await streamWith('race1', 10, 0x1_0000_0000n);
  const s = service();
  const { messages } = await s.pull({ stream: 'race1', group: 'g', maxMessages: 1, visibilitySeconds: 1, consumerId: 'slow' });
  const id = messages[0]!.id;
  // Another consumer re-leases the event (its lease ran out) in a transaction still open when the ack arrives.
  const releaser = new Client(db.dsn);
  await releaser.connect();
  try {
    await releaser.query('BEGIN');
    await releaser.query(
      `UPDATE ductstream_stream.deliveries SET leased_until = now() + interval '30 seconds', consumer_id = 'fast',
              delivery_count = delivery_count + 1, last_delivered_at = now()
        WHERE event_id = $1 AND acked_at IS NULL`,
      [id],
    );
    const ack = s.ack({ stream: 'race1', group: 'g', ids: [id] });
    await new Promise((r) => setTimeout(r, 300));
    await releaser.query('COMMIT');
    const r = await ack;
    expect(r).toMatchObject({ acked: [id], alreadyAcked: [], notDelivered: [] });
  } finally {
    await releaser.end();
  }
  expect((await ackedAt('race1')).get(id)).toBe(true);
});

test('several connections pulling and acking with short leases and late acks: every event ends acked exactly as reported', async () => {
  const N = 300;
  await streamWith('race2', N, 0x2_0000_0000n);
  const consumers = Array.from({ length: 6 }, () => service());
  const reports: Array<{ id: string; status: 'acked' | 'already' | 'not' }> = [];
  let seed = 7;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const deadline = Date.now() + 60_000;
  const ackedIds = new Set<string>();
  await Promise.all(
    consumers.map(async (s, i) => {
      while (ackedIds.size < N && Date.now() < deadline) {
        const { messages } = await s.pull({ stream: 'race2', group: 'g', maxMessages: 8, visibilitySeconds: 1, consumerId: `c${i}` });
        if (messages.length === 0) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        // Some acks arrive around or after the lease ended, while others re-lease the events.
        await new Promise((r) => setTimeout(r, random() < 0.4 ? 900 + random() * 300 : random() * 50));
        const r = await s.ack({ stream: 'race2', group: 'g', ids: messages.map((m) => m.id) });
        for (const id of r.acked) {
          reports.push({ id, status: 'acked' });
          ackedIds.add(id);
        }
        for (const id of r.alreadyAcked) reports.push({ id, status: 'already' });
        for (const id of r.notDelivered) reports.push({ id, status: 'not' });
      }
    }),
  );
  const state = await ackedAt('race2');
  expect(state.size).toBe(N);
  // Each event was reported acked exactly once, and is acked in the table.
  const ackReports = new Map<string, number>();
  for (const r of reports.filter((x) => x.status === 'acked')) ackReports.set(r.id, (ackReports.get(r.id) ?? 0) + 1);
  expect([...state.entries()].filter(([, acked]) => !acked)).toEqual([]);
  expect(ackReports.size).toBe(N);
  expect([...ackReports.values()].every((n) => n === 1)).toBe(true);
  // "already acked" only for events some ack reported acked; "not delivered" never happens here.
  expect(reports.filter((x) => x.status === 'already' && !ackReports.has(x.id))).toEqual([]);
  expect(reports.filter((x) => x.status === 'not')).toEqual([]);
}, 90_000);
