/**
 * The kafka destination writes each produce request straight from the buffer it encoded into (the
 * request header in the room left in front, see ProducerCluster#produce), reusing the buffers of
 * acknowledged requests; kafkajs's own request encoding (which copies the body twice) is used only
 * when a connection does not look as expected. Records are read back with kcat (librdkafka).
 */
import '../../src/destinations';
import type { Destination } from '../../src/destinations/destination';
import { getDestinationKind } from '../../src/destinations/registry';
import { silentLogger } from '../../src/core/log';
import { toEncodedBatch } from '../../src/pipeline/encodedBatch';
import { getCodec } from '../../src/wire/registry';
import { ChangeLog, table } from '../support/changes';
import { startKafkaBroker, type KafkaBroker } from '../support/peers/kafkaBroker';

interface KjsConnectionLike {
  clientId: string;
  send(o: { request: { apiKey: number } }): Promise<unknown>;
}
interface KjsPoolLike {
  getConnection(index: number): Promise<KjsConnectionLike>;
}
// kafkajs internals, only to observe which path a request takes.
const Connection = require('kafkajs/src/network/connection') as { prototype: KjsConnectionLike };
const ConnectionPool = require('kafkajs/src/network/connectionPool') as { prototype: KjsPoolLike };

let broker: KafkaBroker;
const users = table('public.users', { id: 'int8', name: 'text', bio: 'text' }, { primaryKey: ['id'] });

beforeAll(async () => {
  broker = await startKafkaBroker();
}, 30_000);
afterAll(async () => {
  await broker.stop();
});
afterEach(() => {
  jest.restoreAllMocks();
});

async function destination(topic: string): Promise<Destination> {
  const kind = getDestinationKind('kafka', 'destinations[0].type');
  const config = kind.parseConfig({ brokers: broker.bootstrap, topic, client_id: 'framing-test' }, 'destinations[0].options');
  const d = await kind.create(config, { flowId: 'f', name: 'k', wireFormat: 'json', parallelism: 1, log: silentLogger });
  await d.open();
  return d;
}

/** Writes `rounds` batches of 800 inserts (each request well over the pool's 64 KiB floor) and reads the topic back. */
async function writeAndRead(topic: string, rounds: number): Promise<{ expected: string[]; got: string[] }> {
  const d = await destination(topic);
  const log = new ChangeLog();
  const expected: string[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      log.tx((t) => {
        for (let i = 0; i < 800; i++) {
          const id = round * 800 + i;
          t.insert(users, { id: BigInt(id), name: `name ${id} é`, bio: 'b'.repeat(100 + (id % 50)) });
          expected.push(`${id}:name ${id} é`);
        }
      });
      await d.write(toEncodedBatch(log.batch(), (f) => getCodec(f)));
    }
  } finally {
    await d.close();
  }
  const records = await broker.readTopic(topic);
  const got = records.map((r) => {
    const env = getCodec('json').decodeMessage(r.value!, users);
    expect(r.key!.toString()).toBe(`{"id":"${String(env.after!.id)}"}`);
    expect(r.headers.table).toBe('public.users');
    return `${String(env.after!.id)}:${String(env.after!.name)}`;
  });
  return { expected: expected.sort(), got: got.sort() };
}

test('produce requests bypass kafkajs request encoding, reuse frames, and every record reads back intact', async () => {
  const send = jest.spyOn(Connection.prototype, 'send');
  const allocations = jest.spyOn(Buffer, 'allocUnsafeSlow');
  const { expected, got } = await writeAndRead('framed', 4);
  expect(got).toEqual(expected);
  const produceCalls = send.mock.calls.filter(([o]) => o.request.apiKey === 0);
  expect(produceCalls).toHaveLength(0);
  // Four requests of ~150 KB: the first allocates a frame, the others write over it.
  expect(allocations.mock.calls.filter(([n]) => n >= 64 * 1024)).toHaveLength(1);
});

test('a connection that does not match falls back to kafkajs request encoding, records intact', async () => {
  const original = ConnectionPool.prototype.getConnection;
  jest.spyOn(ConnectionPool.prototype, 'getConnection').mockImplementation(async function (this: KjsPoolLike, index: number) {
    const c = await original.call(this, index);
    c.clientId = 'another-client'; // what the framed path checks before writing its own header
    return c;
  });
  const send = jest.spyOn(Connection.prototype, 'send');
  const { expected, got } = await writeAndRead('fallback', 2);
  expect(got).toEqual(expected);
  expect(send.mock.calls.filter(([o]) => o.request.apiKey === 0).length).toBeGreaterThanOrEqual(2);
});
