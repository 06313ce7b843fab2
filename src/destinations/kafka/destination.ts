import type { TableSchema } from '../../core/change';
import { DuctError, isDuctError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { SourceRowReader } from '../../core/sourceRows';
import { withRetry } from '../../core/retry';
import { getCodec } from '../../wire/registry';
import type { EncodedBatch, EventDestination } from '../destination';
import type { DestinationContext } from '../registry';
import { ProducerCluster } from './cluster';
import type { KafkaConfig } from './config';
import { kafkaError } from './errors';
import { KAFKA_ASCII_HEADERS, KAFKA_HEADERS, recordsOf } from './messages';
import { RecordWrite, type ProducerOptions } from './producer';
import { ProduceRequestEncoder } from './recordBatch';
import { AVRO_SCHEMA_HEADER, SchemaCarrier } from '../schemaCarrier';
import { topicFor } from './topics';
import { requireOpen } from '../requireOpen';
import { KeyMoveTables } from '../keyMoves';
import { eventsWithSource } from '../keyChanges';

/**
 * Produces each change as one Kafka record (see messages.ts for key, value and headers). Works
 * against any Kafka-protocol broker, Bufstream included (kind `bufstream`). Connections, TLS, SASL
 * and metadata are kafkajs's (cluster.ts); the records of a write are encoded here (recordBatch.ts)
 * into as few produce requests as possible (producer.ts).
 *
 * Contract (beyond `EventDestination`'s: at-least-once, deduplicated by idempotency key):
 * - `open()` connects to the seed brokers and loads metadata; an unreachable cluster fails with a
 *   DuctError naming the destination and `brokers` (retry `backoff`). Topics are created by the
 *   broker on first use (`auto.create.topics.enable`); none is created or deleted here.
 * - `write(batch)` resolves once every record is acknowledged with `acks` (`all` by default: every
 *   in-sync replica has it, so it is durable; `acks=1`/`0` trade that for latency and are not).
 *   Records of one row keep commit order: they share a partition (murmur2 of the primary key, as
 *   Kafka's and kafkajs's default partitioners choose) and a partition's records travel in batch
 *   order, in one request or in requests sent one after another. A truncate is written to every
 *   partition of its topic after everything before it and before everything after it. All topics
 *   and partitions a broker leads share its requests (one per broker unless the write exceeds
 *   `max_request_bytes`), so `parallelism` is not needed here.
 * - Delivery is at-least-once: a retried request or a replayed batch produces records again, with
 *   the same `idempotency_key` header; consumers deduplicate by it. A retry resends only the
 *   partitions that did not acknowledge. (Kafka's idempotent producer is not used: it needs cluster
 *   features some Kafka-compatible brokers lack.)
 * - Failed requests are retried by `withRetry` (max_retries, backoff_*) when the broker error is
 *   retriable, after reloading metadata; a permanent refusal (authorization, record too large,
 *   invalid topic) fails at once with retry `never`, which stops the flow with that reason.
 */
export class KafkaDestination implements EventDestination {
  readonly delivery = 'at_least_once' as const;
  readonly kind: string;
  readonly name: string;
  private cluster?: ProducerCluster;
  private readonly log: Logger;
  private readonly producerOptions: ProducerOptions;
  private readonly encoder: ProduceRequestEncoder;
  private readonly carrier: SchemaCarrier;
  /** Key moves of the open transaction across writes (a swap cut between batches). */
  private readonly keyMoves = new KeyMoveTables();
  /** The source's rows by key, for keys a transaction moved a row into and out of again (see `eventsWithSource`). */
  private sourceRows: SourceRowReader | undefined;

  constructor(
    readonly config: KafkaConfig,
    private readonly ctx: DestinationContext,
  ) {
    this.kind = config.kind;
    this.name = ctx.name;
    this.log = ctx.log.child({ destination: ctx.name, kind: config.kind });
    this.carrier = new SchemaCarrier(ctx.wireFormat, config.schemaRegistryUrl, config.fields.schemaRegistryUrl);
    this.producerOptions = {
      acks: config.acks,
      timeoutMs: config.requestTimeoutMs,
      compression: config.compression,
      maxRequestBytes: config.maxRequestBytes,
      headerNames: this.carrier.usesSchemaHeader ? [...KAFKA_HEADERS, AVRO_SCHEMA_HEADER] : KAFKA_HEADERS,
      asciiHeaders: this.carrier.usesSchemaHeader ? [...KAFKA_ASCII_HEADERS, false] : KAFKA_ASCII_HEADERS,
    };
    this.encoder = new ProduceRequestEncoder(this.producerOptions);
  }

  async open(): Promise<void> {
    if (this.cluster) return;
    const c = this.config;
    const cluster = ProducerCluster.create(c, this.log);
    try {
      await cluster.connect();
    } catch (e) {
      await cluster.disconnect().catch(() => undefined);
      throw this.wrap(e, `cannot connect to brokers ${c.brokers.join(',')} (${c.fields.brokers})`);
    }
    this.cluster = cluster;
    this.sourceRows = this.ctx.sourceRows?.();
    if (c.acks === 0) this.log.warn('acks=0: the broker does not acknowledge records, so a crash can lose a batch the checkpoint already passed');
  }

  async write(batch: EncodedBatch): Promise<void> {
    if (batch.changes.length === 0) return;
    const cluster = this.requireCluster();
    const events = await eventsWithSource(batch, this.config.tombstones, this.keyMoves, this.sourceRows, this.log);
    const records = recordsOf(batch, {
      codec: getCodec(this.ctx.wireFormat),
      topic: this.config.topic,
      tombstones: this.config.tombstones,
      events,
      ...(this.carrier.usesSchemaHeader ? { extraHeader: (schema: TableSchema) => this.carrier.schemaHeader(schema) } : {}),
      ...(this.carrier.framed ? { frame: await this.framers(batch) } : {}),
    });
    const write = new RecordWrite(cluster, this.encoder, this.producerOptions, records);
    await withRetry(
      async () => {
        try {
          await write.attempt();
        } catch (e) {
          throw this.wrap(e, `producing ${records.length} record(s) to ${write.topicNames().join(', ')} failed`);
        }
      },
      this.config.retry,
      { onRetry: (e, attempt, delayMs) => this.log.warn('produce failed; retrying', { attempt, delayMs, error: (e as Error).message }) },
    );
  }

  /** Registers each table's schema under `<topic>-value` (once per process) and frames values with its id. */
  private async framers(batch: EncodedBatch): Promise<(topic: string, value: Uint8Array) => Uint8Array> {
    const byTopic = new Map<string, (v: Uint8Array) => Uint8Array>();
    for (const schema of batch.schemas.values()) {
      const topic = topicFor(this.config.topic, schema);
      try {
        byTopic.set(topic, await this.carrier.framer(`${topic}-value`, schema));
      } catch (e) {
        throw isDuctError(e) ? e : this.wrap(e, `registering the schema of ${topic}`);
      }
    }
    return (topic, value) => byTopic.get(topic)!(value);
  }

  async close(): Promise<void> {
    const cluster = this.cluster;
    const sourceRows = this.sourceRows;
    this.cluster = undefined;
    this.sourceRows = undefined;
    await sourceRows?.close().catch(() => undefined);
    await cluster?.disconnect().catch(() => undefined);
  }

  private wrap(e: unknown, what: string): DuctError {
    return kafkaError(e, what, { kind: this.kind, name: this.name, fields: this.config.fields });
  }

  private requireCluster(): ProducerCluster {
    return requireOpen(this.cluster, this.kind, this.name);
  }
}
