/**
 * The pgstream destination against a real PostgreSQL: events are stored once per change however
 * often a batch is written, in stream order, with the payload in the resolved wire format; options
 * are validated; acknowledged events are trimmed only when asked.
 */
import * as avro from 'avsc';
import { silentLogger } from '../../src/core/log';
import { getDestinationKind } from '../../src/destinations';
import type { PgstreamDestination } from '../../src/destinations/pgstream/destination';
import { toEncodedBatch } from '../../src/pipeline/encodedBatch';
import { StreamService } from '../../src/services/streams';
import type { WireFormat } from '../../src/wire/codec';
import { envelopeOf } from '../../src/wire/envelope';
import { getCodec } from '../../src/wire/registry';
import { ChangeLog, table } from '../support/changes';
import { createTestDatabase, type TestDatabase } from '../support/pg';

let db: TestDatabase;
const opened: PgstreamDestination[] = [];
const services: StreamService[] = [];
const users = table('public.users', { id: 'int8', name: 'text', score: 'numeric(10,2)', raw: 'bytea' }, { primaryKey: ['id'] });

beforeAll(async () => {
  db = await createTestDatabase('pgstream_dest');
});

afterAll(async () => {
  await Promise.all(opened.map((d) => d.close()));
  await Promise.all(services.map((s) => s.close()));
  await db.drop();
});

async function destination(options: Record<string, string>, name = 'orders', wireFormat: WireFormat = 'json'): Promise<PgstreamDestination> {
  const kind = getDestinationKind('pgstream', 'destinations[0].type');
  const config = kind.parseConfig({ dsn: db.dsn, ...options }, 'destinations[0].options');
  const d = (await kind.create(config, { flowId: 'flow-1', name, wireFormat, parallelism: 1, log: silentLogger })) as PgstreamDestination;
  opened.push(d);
  await d.open();
  return d;
}

function service(): StreamService {
  const s = new StreamService({ dsn: db.dsn });
  services.push(s);
  return s;
}

const encoded = (log: ChangeLog) => toEncodedBatch(log.batch(), (f) => getCodec(f));

describe('options', () => {
  const kind = () => getDestinationKind('pgstream', 'destinations[1].type');
  test('dsn is required, unknown options and bad values are rejected naming the field', () => {
    expect(kind().usesWireFormat).toBe(true);
    expect(() => kind().parseConfig({}, 'destinations[1].options')).toThrow('destinations[1].options.dsn: is required');
    expect(() => kind().parseConfig({ dsn: 'mysql://x' }, 'destinations[1].options')).toThrow('destinations[1].options.dsn: is not a postgres:// URL');
    expect(() => kind().parseConfig({ dsn: 'postgres://h/db', strem: 'x' }, 'destinations[1].options')).toThrow(
      'destinations[1].options.strem: is not a known option',
    );
    expect(() => kind().parseConfig({ dsn: 'postgres://h/db', format: 'xml' }, 'destinations[1].options')).toThrow(
      'destinations[1].options.format: unknown wire format "xml"',
    );
    expect(() => kind().parseConfig({ dsn: 'postgres://h/db', stream: 'a b' }, 'destinations[1].options')).toThrow('destinations[1].options.stream');
    expect(() => kind().parseConfig({ dsn: 'postgres://h/db', trim_acked: 'maybe' }, 'destinations[1].options')).toThrow('destinations[1].options.trim_acked');
    expect(kind().parseConfig({ dsn: 'postgres://u:secret@h/db' }, 'd')).toEqual({
      dsn: 'postgres://u:secret@h/db',
      dsnField: 'd.dsn',
      stream: undefined,
      format: undefined,
      trimAcked: false,
      trimIntervalMs: 60_000,
    });
    expect(kind().parseConfig({ dsn: 'postgres://h/db', stream: 'orders', format: 'AVRO', trim_acked: 'true', trim_interval: '5s' }, 'd')).toMatchObject({
      stream: 'orders',
      format: 'avro',
      trimAcked: true,
      trimIntervalMs: 5000,
    });
  });

  test('an unreachable database fails open naming the dsn field, without the password', async () => {
    const kind = getDestinationKind('pgstream', 'destinations[0].type');
    const config = kind.parseConfig({ dsn: 'postgres://u:hunter2@127.0.0.1:1/db' }, 'destinations[3].options');
    const d = await kind.create(config, { flowId: 'f', name: 'x', wireFormat: 'json', parallelism: 1, log: silentLogger });
    const err = await d.open().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toContain('destinations[3].options.dsn');
    expect(err?.message).not.toContain('hunter2');
    await d.close();
  });
});

describe('writing events', () => {
  test('a batch written twice (and an older one again) stores each change once, in stream order, with its json payload', async () => {
    const d = await destination({});
    const log = new ChangeLog('flow-1');
    log.tx((t) =>
      t.insert(users, { id: 1n, name: 'ann', score: '1.50', raw: Buffer.from([0, 255]) }).insert(users, { id: 2n, name: 'bob', score: null, raw: null }),
    );
    const first = encoded(log);
    log.tx((t) => t.update(users, { id: 1n, name: 'anne', score: '2.00', raw: null }).delete(users, { id: 2n }));
    const second = encoded(log);
    expect(await d.writeBatch(first)).toBe(2);
    expect(await d.writeBatch(second)).toBe(2);
    expect(await d.writeBatch(second)).toBe(0);
    expect(await d.writeBatch(first)).toBe(0);

    const rows = await db.query<{ id: string; op: string; key: unknown; commit_lsn: string; seq: number; format: string; payload: Buffer; table_name: string }>(
      `SELECT e.id::text, e.op, e.key, e.commit_lsn::text, e.seq::int AS seq, e.format, e.payload, e.table_name
       FROM ductstream_stream.events e JOIN ductstream_stream.streams s ON s.id = e.stream_id WHERE s.name = 'orders' ORDER BY e.id`,
    );
    expect(rows.map((r) => [r.op, r.key, r.seq, r.format, r.table_name])).toEqual([
      ['insert', { id: '1' }, 0, 'json', 'users'],
      ['insert', { id: '2' }, 1, 'json', 'users'],
      ['update', { id: '1' }, 0, 'json', 'users'],
      ['delete', { id: '2' }, 1, 'json', 'users'],
    ]);
    const codec = getCodec('json');
    expect(rows.map((r) => codec.decodeMessage(r.payload, users))).toEqual(log.all.map(envelopeOf));
    const [stream] = await db.query<{ format: string; flow_id: string }>(`SELECT format, flow_id FROM ductstream_stream.streams WHERE name = 'orders'`);
    expect(stream).toEqual({ format: 'json', flow_id: 'flow-1' });
  });

  test('the stream option names the stream and the resolved wire format encodes the payload', async () => {
    const d = await destination({ stream: 'audit', format: 'avro' }, 'dest-name', 'avro');
    expect(d.stream).toBe('audit');
    const log = new ChangeLog('flow-1', 0x2_0000_0000n);
    log.tx((t) => t.insert(users, { id: 7n, name: 'zed', score: '9.99', raw: Buffer.from('hi') }));
    await d.write(encoded(log));
    const [row] = await db.query<{ format: string; payload: Buffer }>(
      `SELECT e.format, e.payload FROM ductstream_stream.events e JOIN ductstream_stream.streams s ON s.id = e.stream_id WHERE s.name = 'audit'`,
    );
    expect(row!.format).toBe('avro');
    expect(getCodec('avro').decodeMessage(row!.payload, users)).toEqual(envelopeOf(log.all[0]!));
    const pulled = await service().pull({ stream: 'audit', group: 'g', maxMessages: 5, visibilitySeconds: 30, consumerId: 'c' });
    expect(pulled.messages).toHaveLength(1);
    expect(pulled.messages[0]).toMatchObject({ format: 'avro', op: 'insert', key: { id: '7' }, seq: 0, deliveryCount: 1, schema: 'public', table: 'users' });
    expect(getCodec('avro').decodeMessage(pulled.messages[0]!.payload, users)).toEqual(envelopeOf(log.all[0]!));
  });

  test('a transaction split across batches is stored once when the whole transaction is written again', async () => {
    const d = await destination({}, 'split');
    const log = new ChangeLog('flow-1', 0x3_0000_0000n);
    const changes = log.tx((t) =>
      t
        .insert(users, { id: 1n, name: 'a', score: null, raw: null })
        .insert(users, { id: 2n, name: 'b', score: null, raw: null })
        .insert(users, { id: 3n, name: 'c', score: null, raw: null }),
    );
    log.batch();
    const asBatch = (cs: typeof changes) => toEncodedBatch(log.batchOf(cs), (f) => getCodec(f));
    expect(await d.writeBatch(asBatch(changes.slice(0, 2)))).toBe(2);
    expect(await d.writeBatch(asBatch(changes))).toBe(1);
    const [{ n }] = (await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM ductstream_stream.events e JOIN ductstream_stream.streams s ON s.id = e.stream_id WHERE s.name = 'split'`,
    )) as [{ n: string }];
    expect(n).toBe('3');
  });
});

describe('trim_acked', () => {
  test('off by default; when on, deletes only events every group acked', async () => {
    const keep = await destination({}, 'keep');
    const trim = await destination({ trim_acked: 'true', trim_interval: '0s' }, 'trimmed');
    const svc = service();
    for (const [d, base] of [
      [keep, 0x10_0000_0000n],
      [trim, 0x20_0000_0000n],
    ] as const) {
      const log = new ChangeLog('flow-1', base);
      for (let i = 1; i <= 6; i++) log.tx((t) => t.insert(users, { id: BigInt(i), name: `u${i}`, score: null, raw: null }));
      await d.write(encoded(log));
      for (const group of ['a', 'b']) {
        const { messages } = await svc.pull({ stream: d.stream, group, maxMessages: group === 'a' ? 6 : 4, visibilitySeconds: 60, consumerId: 'c' });
        await svc.ack({ stream: d.stream, group, ids: messages.map((m) => m.id) });
      }
      log.tx((t) => t.insert(users, { id: 100n, name: 'late', score: null, raw: null }));
      await d.write(encoded(log));
    }
    const count = async (stream: string) =>
      Number(
        (
          await db.query<{ n: string }>(
            `SELECT count(*) AS n FROM ductstream_stream.events e JOIN ductstream_stream.streams s ON s.id = e.stream_id WHERE s.name = $1`,
            [stream],
          )
        )[0]!.n,
      );
    expect(await count('keep')).toBe(7);
    // Group b acked only 4 of the 6: events 5 and 6 stay, and the 7th nobody has seen.
    expect(await count('trimmed')).toBe(3);
    const rest = await svc.pull({ stream: 'trimmed', group: 'b', maxMessages: 10, visibilitySeconds: 60, consumerId: 'c' });
    expect(rest.messages.map((m) => m.key)).toEqual([{ id: '5' }, { id: '6' }, { id: '100' }]);
  });
});

describe('avro events carry their writer schema', () => {
  test('a pulled avro event decodes with plain avsc from its own avro_schema; json events carry none', async () => {
    const d = await destination({ stream: 'avro_users', format: 'avro' }, 'avro', 'avro');
    const log = new ChangeLog();
    log.tx((t) =>
      t.insert(users, { id: 1n, name: 'ada', score: '1.50', raw: Buffer.from([0, 255]) }).update(users, { id: 1n, name: 'ada l', score: '2.00', raw: null }),
    );
    await d.write(encoded(log));
    const { messages } = await service().pull({ stream: 'avro_users', group: 'g', maxMessages: 10, visibilitySeconds: 30, consumerId: 'c' });
    expect(messages).toHaveLength(2);
    const decoded = messages.map((m) => {
      expect(m.format).toBe('avro');
      return avro.Type.forSchema(JSON.parse(m.avroSchema) as avro.Schema).fromBuffer(m.payload) as { op: string; after: { name: string } | null };
    });
    expect(decoded.map((e) => [e.op, e.after?.name])).toEqual([
      ['insert', 'ada'],
      ['update', 'ada l'],
    ]);

    const j = await destination({ stream: 'json_users' }, 'json');
    const jlog = new ChangeLog();
    jlog.tx((t) => t.insert(users, { id: 2n, name: 'bob', score: null, raw: null }));
    await j.write(encoded(jlog));
    const pulled = await service().pull({ stream: 'json_users', group: 'g', maxMessages: 10, visibilitySeconds: 30, consumerId: 'c' });
    expect(pulled.messages.map((m) => m.avroSchema)).toEqual(['']);
  });
});
