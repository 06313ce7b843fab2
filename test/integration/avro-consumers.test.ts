/**
 * Avro messages a consumer can decode on its own, through real peers: the kcat mock Kafka broker
 * and a Node HTTP server. Without a registry the writer schema travels in the
 * `ductstream-avro-schema` header and plain avsc decodes the value; with `schema_registry_url`, a
 * local stand-in for a Confluent schema registry (the REST subset producers and consumers use)
 * receives `<topic>-value` and the values are in the Confluent wire format (avro and proto).
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import avro from 'avsc';
import protobuf from 'protobufjs';
import '../../src/destinations';
import { silentLogger } from '../../src/core/log';
import type { Destination } from '../../src/destinations/destination';
import { getDestinationKind } from '../../src/destinations/registry';
import { toEncodedBatch } from '../../src/pipeline/encodedBatch';
import type { WireFormat } from '../../src/wire/codec';
import { getCodec } from '../../src/wire/registry';
import { ChangeLog, table } from '../support/changes';
import { startHttpPeer, type HttpPeer } from '../support/peers/httpPeer';
import { startKafkaBroker, type KafkaBroker } from '../support/peers/kafkaBroker';

const users = table('public.users', { id: 'int4', name: 'text' }, { primaryKey: ['id'] });

/** A stand-in for a Confluent schema registry: POST /subjects/{s}/versions, GET /schemas/ids/{id}. */
interface RegistryStandIn {
  url: string;
  subjects: Map<string, number>;
  schemas: Map<number, { schema: string; schemaType?: string }>;
  /** Every request's headers, as JSON text (to check that no other endpoint's secret arrives). */
  seenHeaders: string[];
  server: Server;
}

async function startRegistryStandIn(): Promise<RegistryStandIn> {
  const subjects = new Map<string, number>();
  const schemas = new Map<number, { schema: string; schemaType?: string }>();
  const seenHeaders: string[] = [];
  const server = createServer((req, res) => {
    seenHeaders.push(JSON.stringify(req.headers));
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const post = /^\/subjects\/([^/]+)\/versions$/.exec(req.url ?? '');
      const get = /^\/schemas\/ids\/(\d+)$/.exec(req.url ?? '');
      res.setHeader('Content-Type', 'application/vnd.schemaregistry.v1+json');
      if (req.method === 'POST' && post) {
        const s = JSON.parse(body) as { schema: string; schemaType?: string };
        let id = [...schemas].find(([, v]) => v.schema === s.schema)?.[0];
        if (id === undefined) schemas.set((id = schemas.size + 1), s);
        subjects.set(decodeURIComponent(post[1]!), id);
        return res.end(JSON.stringify({ id }));
      }
      if (req.method === 'GET' && get && schemas.has(Number(get[1]))) return res.end(JSON.stringify(schemas.get(Number(get[1]))));
      res.statusCode = 404;
      res.end(JSON.stringify({ error_code: 40401, message: 'not found' }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, subjects, schemas, seenHeaders, server };
}

let broker: KafkaBroker;
let peer: HttpPeer;
let registry: RegistryStandIn;

beforeAll(async () => {
  broker = await startKafkaBroker();
  peer = await startHttpPeer();
  registry = await startRegistryStandIn();
}, 30_000);

afterAll(async () => {
  await broker?.stop();
  await peer?.close();
  registry?.server.closeAllConnections();
  await new Promise((r) => registry?.server.close(r));
});

async function writeUsers(type: string, format: WireFormat, options: Record<string, string>): Promise<void> {
  const kind = getDestinationKind(type, 'destinations[0].type');
  const dest: Destination = await kind.create(kind.parseConfig({ ...options, format }, 'destinations[0].options'), {
    flowId: 'f',
    name: 'd',
    wireFormat: format,
    parallelism: 1,
    log: silentLogger,
  });
  await dest.open();
  const log = new ChangeLog('f');
  log.tx((t) => t.insert(users, { id: 1, name: 'ada' }).update(users, { id: 1, name: 'ada lovelace' }));
  await dest.write(toEncodedBatch(log.batch(), (f) => getCodec(f)));
  await dest.close();
}

interface DecodedEvent {
  op: string;
  after: { id: number; name: string } | null;
}

test('kafka avro without a registry: every record carries its writer schema, and plain avsc decodes it', async () => {
  await writeUsers('kafka', 'avro', { brokers: broker.bootstrap, topic: 'plain.{table}' });
  const records = await broker.readTopic('plain.users');
  expect(records).toHaveLength(2);
  const decoded = records.map((r) => {
    const schema = r.headers['ductstream-avro-schema']!;
    return avro.Type.forSchema(JSON.parse(schema) as avro.Schema).fromBuffer(r.value!) as DecodedEvent;
  });
  expect(decoded.map((e) => [e.op, e.after])).toEqual([
    ['insert', { id: 1, name: 'ada' }],
    ['update', { id: 1, name: 'ada lovelace' }],
  ]);
});

test('http avro: the request carries the writer schema header, and plain avsc decodes the body', async () => {
  peer.reset();
  await writeUsers('http', 'avro', { url: `${peer.url}/avro` });
  const decoded = peer.delivered('/avro').map((req) => {
    const schema = decodeURIComponent(String(req.headers['ductstream-avro-schema']));
    return avro.Type.forSchema(JSON.parse(schema) as avro.Schema).fromBuffer(req.body) as DecodedEvent;
  });
  expect(decoded.map((e) => e.after?.name)).toEqual(['ada', 'ada lovelace']);
});

test('kafka with schema_registry_url (a local stand-in for a registry): Confluent wire format, subject <topic>-value, avro and proto', async () => {
  await writeUsers('kafka', 'avro', { brokers: broker.bootstrap, topic: 'reg.{table}', schema_registry_url: registry.url });
  await writeUsers('kafka', 'proto', { brokers: broker.bootstrap, topic: 'regproto.{table}', schema_registry_url: registry.url });
  expect([...registry.subjects.keys()].sort()).toEqual(['reg.users-value', 'regproto.users-value']);

  // A consumer: magic byte 0, schema id, then (proto) message indexes; the schema comes from the registry by id.
  const schemaById = async (id: number): Promise<{ schema: string; schemaType?: string }> =>
    (await (await fetch(`${registry.url}/schemas/ids/${id}`)).json()) as { schema: string; schemaType?: string };

  const avroRecords = await broker.readTopic('reg.users');
  const avroNames: string[] = [];
  for (const r of avroRecords) {
    const v = r.value!;
    expect(v[0]).toBe(0);
    const { schema } = await schemaById(v.readUInt32BE(1));
    avroNames.push((avro.Type.forSchema(JSON.parse(schema) as avro.Schema).fromBuffer(v.subarray(5)) as DecodedEvent).after!.name);
  }
  expect(avroNames).toEqual(['ada', 'ada lovelace']);

  const protoRecords = await broker.readTopic('regproto.users');
  const ops: string[] = [];
  for (const r of protoRecords) {
    const v = r.value!;
    expect([v[0], v[5]]).toEqual([0, 0]);
    const { schema, schemaType } = await schemaById(v.readUInt32BE(1));
    expect(schemaType).toBe('PROTOBUF');
    const type = protobuf.parse(schema, { keepCase: true }).root.lookupType('ductstream.v1.ChangeEvent');
    ops.push(String((type.toObject(type.decode(v.subarray(6)), { enums: String }) as { op: string }).op));
  }
  expect(ops).toHaveLength(2);
  expect(ops[0]).toMatch(/insert/i);
  expect(ops[1]).toMatch(/update/i);
});

test('http with schema_registry_url (a local stand-in for a registry): Confluent wire format, subject <schema>.<table>-value, webhook headers stay at the webhook', async () => {
  peer.reset();
  registry.subjects.clear();
  const secret = 'Bearer webhook-s3cret';
  await writeUsers('http', 'avro', { url: `${peer.url}/reg-avro`, schema_registry_url: `${registry.url}/`, headers: `Authorization:${secret}` });
  await writeUsers('http', 'proto', { url: `${peer.url}/reg-proto`, schema_registry_url: registry.url, headers: `Authorization:${secret}` });
  expect([...registry.subjects.keys()]).toEqual(['public.users-value']);
  expect(registry.seenHeaders.join('\n')).not.toContain('s3cret');

  const avroNames: string[] = [];
  for (const req of peer.delivered('/reg-avro')) {
    expect(req.headers['ductstream-avro-schema']).toBeUndefined();
    expect(req.headers.authorization).toBe(secret);
    const v = Buffer.from(req.body);
    expect(v[0]).toBe(0);
    const { schema } = registry.schemas.get(v.readUInt32BE(1))!;
    avroNames.push((avro.Type.forSchema(JSON.parse(schema) as avro.Schema).fromBuffer(v.subarray(5)) as DecodedEvent).after!.name);
  }
  expect(avroNames).toEqual(['ada', 'ada lovelace']);

  const ops: string[] = [];
  for (const req of peer.delivered('/reg-proto')) {
    const v = Buffer.from(req.body);
    expect([v[0], v[5]]).toEqual([0, 0]);
    const { schema, schemaType } = registry.schemas.get(v.readUInt32BE(1))!;
    expect(schemaType).toBe('PROTOBUF');
    const type = protobuf.parse(schema, { keepCase: true }).root.lookupType('ductstream.v1.ChangeEvent');
    ops.push(String((type.toObject(type.decode(v.subarray(6)), { enums: String }) as { op: string }).op));
  }
  expect(ops).toHaveLength(2);
  expect(ops[0]).toMatch(/insert/i);
});
