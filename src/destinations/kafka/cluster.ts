import { Kafka, logLevel, type LogEntry, type SASLOptions } from 'kafkajs';
import { DuctError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { KafkaConfig } from './config';

/**
 * The connection side of the kafka destination: kafkajs's cluster (seed brokers, TLS, SASL,
 * metadata, one connection pool per broker, request framing and timeouts), driven directly so that
 * produce requests can carry record batches this module encodes itself (recordBatch.ts) instead of
 * kafkajs's per-record encoders (kafkajs spends ~40 µs per record with seven headers on them).
 *
 * This is the one module that imports kafkajs (the rest of the destination sees `ProducerCluster`,
 * `PartitionInfo`, `PartitionAck` and plain errors), and the only one that uses it beyond its public
 * API. The parts it relies on (kafkajs
 * 2.2.4, the last release): the cluster factory the `Kafka` client keeps under the symbol
 * `private:Kafka:createCluster`; `Cluster#connect/disconnect/isConnected/refreshMetadata/
 * refreshMetadataIfNecessary/addMultipleTargetTopics/findTopicPartitionMetadata/findBroker/
 * removeBroker`; `Broker#lookupRequest` (API version negotiation), `Broker#connectionPool.send`
 * and `getConnection`, `Broker#disconnect`; of a `Connection` (to send a request framed here, see
 * `send`): `clientId`, `socket`, `isAuthenticated/authenticate/failIfNotConnected/nextCorrelationId`
 * and `requestQueue.push/maybeThrottle` (without them a request goes through `Connection#send`,
 * which copies it); the produce response decoders `kafkajs/src/protocol/requests/produce/
 * v3..v7/response` and `kafkajs/src/protocol/error`'s `createErrorFromCode`. `openCluster` checks
 * these exist and fails with a clear error (retry `never`) if a kafkajs upgrade moved them.
 */

/** Produce API key; versions 3–7 share the request layout written by recordBatch.ts (magic-2 record batches). */
const PRODUCE_API_KEY = 0;
const PRODUCE_VERSIONS = ['3', '4', '5', '6', '7'];

export interface PartitionInfo {
  partitionId: number;
  /** Node id of the partition's leader; negative when it has none right now. */
  leader: number;
}

/** A partition's answer to a produce request: error code 0 = appended. */
export interface PartitionAck {
  topic: string;
  partition: number;
  errorCode: number;
}

interface KjsBroker {
  lookupRequest(apiKey: number, definition: { versions: string[]; protocol(o: { version: number }): unknown }): unknown;
  connectionPool: {
    send(req: { request: KjsRequest; response: KjsResponse }): Promise<unknown>;
    getConnection?(index: number): Promise<Partial<KjsConnection>>;
  };
  disconnect(): Promise<void>;
}

/** What `ProducerCluster#send` uses of a kafkajs `Connection` (connection.js, `send` minus the request encoding). */
interface KjsConnection {
  clientId: string | null;
  isConnected(): boolean;
  isAuthenticated(): boolean;
  authenticate(): Promise<void>;
  failIfNotConnected(): void;
  nextCorrelationId(): number;
  socket: { write(data: Buffer): boolean };
  requestQueue: {
    push(r: { entry: KjsEntry; expectResponse: boolean; requestTimeout: null; sendRequest(): void }): void;
    maybeThrottle(clientSideThrottleTime: number | null | undefined): void;
  };
}

interface KjsEntry {
  apiKey: number;
  apiName: string;
  apiVersion: number;
  correlationId: number;
  resolve(r: { payload: Buffer | null }): void;
  reject(e: unknown): void;
}

const CONNECTION_METHODS = ['isConnected', 'isAuthenticated', 'authenticate', 'failIfNotConnected', 'nextCorrelationId'];

interface KjsRequest {
  apiKey: number;
  apiVersion: number;
  apiName: string;
  expectResponse(): boolean;
  encode(): Promise<{ buf: Buffer; buffer: Buffer }>;
}

interface KjsResponse {
  decode(raw: Buffer): Promise<unknown>;
  parse(data: unknown): Promise<unknown>;
}

interface KjsCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  isConnected(): boolean;
  refreshMetadata(): Promise<void>;
  refreshMetadataIfNecessary(): Promise<void>;
  addMultipleTargetTopics(topics: string[]): Promise<void>;
  findTopicPartitionMetadata(topic: string): Array<{ partitionId: number; leader?: number | null }>;
  findBroker(q: { nodeId: string }): Promise<KjsBroker>;
  removeBroker(address: { host: string; port: number }): void;
}

interface KjsProduceResponse {
  topics: Array<{ topicName: string; partitions: Array<{ partition: number; errorCode: number }> }>;
}

type CreateCluster = (o: { metadataMaxAge: number; allowAutoTopicCreation: boolean; maxInFlightRequests: null; instrumentationEmitter: null }) => KjsCluster;

const CLUSTER_METHODS = [
  'connect',
  'disconnect',
  'isConnected',
  'refreshMetadata',
  'refreshMetadataIfNecessary',
  'addMultipleTargetTopics',
  'findTopicPartitionMetadata',
  'findBroker',
  'removeBroker',
];

/** True when `c` has every member `ProducerCluster#send` uses of a kafkajs connection. */
function isFramingConnection(c: Partial<KjsConnection> | undefined): c is KjsConnection {
  if (c === undefined || c === null) return false;
  const members = c as Record<string, unknown>;
  if (CONNECTION_METHODS.some((m) => typeof members[m] !== 'function')) return false;
  return typeof c.requestQueue?.push === 'function' && typeof c.requestQueue.maybeThrottle === 'function' && typeof c.socket?.write === 'function';
}

function internalsMissing(what: string): DuctError {
  return new DuctError('internal', `kafkajs internals changed: ${what} not found`, {
    retry: 'never',
    hint: "this build drives kafkajs 2.2.4's cluster directly (src/destinations/kafka/cluster.ts); install kafkajs 2.2.4",
  });
}

/** The kafkajs cluster behind a destination: metadata, brokers, and produce requests of pre-encoded bodies. */
export class ProducerCluster {
  private readonly responses = new Map<number, KjsResponse>();
  private readonly createErrorFromCode: (code: number) => Error;

  /** Bytes in front of a produce request's body for its header (see `produce`). */
  readonly headerRoom: number;
  private readonly clientIdBytes: Buffer;

  private constructor(
    private readonly cluster: KjsCluster,
    private readonly clientId: string,
  ) {
    this.clientIdBytes = Buffer.from(clientId, 'utf8');
    this.headerRoom = 4 + 2 + 2 + 4 + 2 + this.clientIdBytes.length;
    const errors = require('kafkajs/src/protocol/error') as { createErrorFromCode?: (code: number) => Error };
    if (typeof errors.createErrorFromCode !== 'function') throw internalsMissing('protocol/error createErrorFromCode');
    this.createErrorFromCode = errors.createErrorFromCode;
  }

  /**
   * A cluster of `c`'s brokers (not connected yet), TLS and SASL as configured; kafkajs logs go to
   * `log` at debug level. Topics are created by the broker on first metadata request where it
   * auto-creates.
   */
  static create(c: KafkaConfig, log: Logger): ProducerCluster {
    const kafka = new Kafka({
      brokers: c.brokers,
      clientId: c.clientId,
      ssl: c.tls,
      sasl: c.sasl as SASLOptions | undefined,
      connectionTimeout: c.connectTimeoutMs,
      requestTimeout: c.requestTimeoutMs,
      // The destination's withRetry is the one retry loop; kafkajs itself does not retry.
      retry: { retries: 0 },
      logLevel: logLevel.WARN,
      logCreator: () => (entry: LogEntry) => log.debug(`kafkajs: ${entry.log.message}`, { namespace: entry.namespace }),
    }) as unknown as Record<symbol, unknown>;
    const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
    const createCluster = symbol ? (kafka[symbol] as CreateCluster | undefined) : undefined;
    if (typeof createCluster !== 'function') throw internalsMissing('Kafka cluster factory');
    const cluster = createCluster({ metadataMaxAge: 300_000, allowAutoTopicCreation: true, maxInFlightRequests: null, instrumentationEmitter: null });
    for (const m of CLUSTER_METHODS) if (typeof (cluster as unknown as Record<string, unknown>)[m] !== 'function') throw internalsMissing(`Cluster#${m}`);
    return new ProducerCluster(cluster, c.clientId);
  }

  connect(): Promise<void> {
    return this.cluster.connect();
  }

  disconnect(): Promise<void> {
    return this.cluster.disconnect();
  }

  /** Loads metadata for `topics` (a new topic is created where the broker auto-creates) unless it is fresh. */
  async ensureTopics(topics: string[]): Promise<void> {
    if (!this.cluster.isConnected()) await this.cluster.connect();
    await this.cluster.addMultipleTargetTopics(topics);
    await this.cluster.refreshMetadataIfNecessary();
  }

  /** After a failure: reconnect if every connection dropped, and reload metadata (leaders may have moved). */
  async recover(): Promise<void> {
    if (!this.cluster.isConnected()) await this.cluster.connect();
    await this.cluster.refreshMetadata();
  }

  /** The partitions of `topic` sorted by id (empty while the topic has no metadata yet). */
  partitions(topic: string): PartitionInfo[] {
    return this.cluster
      .findTopicPartitionMetadata(topic)
      .map((p) => ({ partitionId: p.partitionId, leader: p.leader ?? -1 }))
      .sort((a, b) => a.partitionId - b.partitionId);
  }

  /**
   * Sends one produce request to the broker `nodeId` and returns each partition's error code
   * (nothing with acks=0: the broker does not answer). `frame` is the request as `ProduceRequestEncoder`
   * writes it with `headerRoom` bytes free in front of the body: the request header (size, API key
   * and version, correlation id, client id) is written there, and the frame goes to the socket as is.
   */
  async produce(nodeId: number, frame: Buffer, acks: number): Promise<PartitionAck[]> {
    const broker = await this.cluster.findBroker({ nodeId: String(nodeId) });
    const version = broker.lookupRequest(PRODUCE_API_KEY, { versions: PRODUCE_VERSIONS, protocol: ({ version }) => version }) as number;
    if (version < 3) {
      throw new DuctError('failed_precondition', `broker ${nodeId} supports Produce up to v${version}; record headers need v3 (Kafka 0.11 or later)`, {
        retry: 'never',
        hint: 'use a broker that speaks Kafka 0.11+ (record batches with headers)',
      });
    }
    let data: unknown;
    try {
      data = await this.send(broker, version, frame, acks);
    } catch (e) {
      const err = e as { name?: string; host?: string; port?: number };
      if (err.name === 'KafkaJSConnectionClosedError') {
        await broker.disconnect().catch(() => undefined);
        if (err.host !== undefined && err.port !== undefined) this.cluster.removeBroker({ host: err.host, port: err.port });
      }
      throw e;
    }
    if (acks === 0) return [];
    const out: PartitionAck[] = [];
    for (const t of (data as KjsProduceResponse).topics)
      for (const p of t.partitions) out.push({ topic: t.topicName, partition: p.partition, errorCode: p.errorCode });
    return out;
  }

  /**
   * Sends `frame` as kafkajs's `Connection#send` does (authentication first, a fresh correlation id,
   * through the connection's request queue with its timeouts, throttling honoured), minus its request
   * encoding, which would copy the body twice into fresh zero-filled buffers. Where the connection
   * does not look as expected, `Connection#send` is used with the body alone.
   */
  private async send(broker: KjsBroker, version: number, frame: Buffer, acks: number): Promise<unknown> {
    const response = this.responseOf(version);
    const conn = await broker.connectionPool.getConnection?.(0);
    if (!isFramingConnection(conn) || conn.clientId !== this.clientId) {
      const body = frame.subarray(this.headerRoom);
      const request: KjsRequest = {
        apiKey: PRODUCE_API_KEY,
        apiVersion: version,
        apiName: 'Produce',
        expectResponse: () => acks !== 0,
        encode: async () => ({ buf: body, buffer: body }),
      };
      return broker.connectionPool.send({ request, response });
    }
    if (!conn.isAuthenticated()) await conn.authenticate();
    conn.failIfNotConnected();
    const correlationId = conn.nextCorrelationId();
    let pos = frame.writeInt32BE(frame.length - 4, 0);
    pos = frame.writeInt16BE(PRODUCE_API_KEY, pos);
    pos = frame.writeInt16BE(version, pos);
    pos = frame.writeInt32BE(correlationId, pos);
    pos = frame.writeInt16BE(this.clientIdBytes.length, pos);
    this.clientIdBytes.copy(frame, pos);
    const expectResponse = acks !== 0;
    const { payload } = await new Promise<{ payload: Buffer | null }>((resolve, reject) => {
      conn.failIfNotConnected();
      const entry: KjsEntry = { apiKey: PRODUCE_API_KEY, apiName: 'Produce', apiVersion: version, correlationId, resolve, reject };
      conn.requestQueue.push({ entry, expectResponse, requestTimeout: null, sendRequest: () => conn.socket.write(frame) });
    });
    if (!expectResponse || payload === null) return undefined;
    const decoded = await response.decode(payload);
    conn.requestQueue.maybeThrottle((decoded as { clientSideThrottleTime?: number }).clientSideThrottleTime);
    return response.parse(decoded);
  }

  /** The kafkajs protocol error of a partition error code (type, retriable), for classification. */
  errorOf(code: number): Error {
    return this.createErrorFromCode(code);
  }

  private responseOf(version: number): KjsResponse {
    let r = this.responses.get(version);
    if (!r) {
      let decode: KjsResponse['decode'] | undefined;
      try {
        decode = (require(`kafkajs/src/protocol/requests/produce/v${version}/response`) as Partial<KjsResponse>).decode;
      } catch {
        decode = undefined;
      }
      if (typeof decode !== 'function') throw internalsMissing(`produce v${version} response decoder`);
      // Partition errors are read by the caller (which partitions made it matters for retries).
      r = { decode, parse: async (d) => d };
      this.responses.set(version, r);
    }
    return r;
  }
}
