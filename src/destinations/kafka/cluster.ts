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
 * and `Broker#disconnect`; the produce response decoders `kafkajs/src/protocol/requests/produce/
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
  connectionPool: { send(req: { request: KjsRequest; response: KjsResponse }): Promise<unknown> };
  disconnect(): Promise<void>;
}

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

  private constructor(private readonly cluster: KjsCluster) {
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
    return new ProducerCluster(cluster);
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
   * Sends one produce request whose body (from `encodeProduceRequest`) goes to the broker `nodeId`,
   * and returns each partition's error code (nothing with acks=0: the broker does not answer).
   */
  async produce(nodeId: number, body: Buffer, acks: number): Promise<PartitionAck[]> {
    const broker = await this.cluster.findBroker({ nodeId: String(nodeId) });
    const version = broker.lookupRequest(PRODUCE_API_KEY, { versions: PRODUCE_VERSIONS, protocol: ({ version }) => version }) as number;
    if (version < 3) {
      throw new DuctError('failed_precondition', `broker ${nodeId} supports Produce up to v${version}; record headers need v3 (Kafka 0.11 or later)`, {
        retry: 'never',
        hint: 'use a broker that speaks Kafka 0.11+ (record batches with headers)',
      });
    }
    const request: KjsRequest = {
      apiKey: PRODUCE_API_KEY,
      apiVersion: version,
      apiName: 'Produce',
      expectResponse: () => acks !== 0,
      encode: async () => ({ buf: body, buffer: body }),
    };
    let data: unknown;
    try {
      data = await broker.connectionPool.send({ request, response: this.responseOf(version) });
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
