import { CompressionTypes, Kafka, logLevel, type Admin, type LogEntry, type Message, type Producer, type SASLOptions } from 'kafkajs';
import { DuctError } from '../../core/errors';
import type { Logger } from '../../core/log';
import { withRetry } from '../../core/retry';
import { getCodec } from '../../wire/registry';
import type { Destination, EncodedBatch } from '../destination';
import { deliverInLanes } from '../lanes';
import type { DestinationContext } from '../registry';
import type { KafkaConfig } from './config';
import { kafkaError } from './errors';
import { chunkRecords, recordsOf, type OutgoingRecord } from './messages';

/**
 * Produces each change as one Kafka record (see messages.ts for key, value and headers) with kafkajs.
 * Works against any Kafka-protocol broker, Bufstream included (kind `bufstream`).
 *
 * Contract (beyond `Destination`'s):
 * - `open()` connects to the seed brokers and loads metadata; an unreachable cluster fails with a
 *   DuctError naming the destination and `brokers` (retry `backoff`). Topics are created by the
 *   broker on first produce (`auto.create.topics.enable`); none is created or deleted here.
 * - `write(batch)` resolves once every record is acknowledged with `acks` (`all` by default: every
 *   in-sync replica has it, so it is durable; `acks=1`/`0` trade that for latency and are not).
 *   Records of one row keep commit order: they share a partition (keyed by primary key) and go
 *   through one delivery lane, one request after another; with `parallelism` > 1 several lanes
 *   (rows hashed over lanes) produce concurrently. A truncate is written to every partition of its
 *   topic after everything before it and before everything after it.
 * - Delivery is at-least-once: a retried request or a replayed batch produces records again, with
 *   the same `idempotency_key` header; consumers deduplicate by it. (Kafka's idempotent producer is
 *   not used: it needs cluster features some Kafka-compatible brokers lack.)
 * - Failed requests are retried by `withRetry` (max_retries, backoff_*) when the broker error is
 *   retriable; a permanent refusal (authorization, record too large, invalid topic) fails at once
 *   with retry `never`, which stops the flow with that reason.
 */
export class KafkaDestination implements Destination {
  readonly kind: string;
  readonly name: string;
  private kafka?: Kafka;
  private producer?: Producer;
  private admin?: Admin;
  private readonly partitions = new Map<string, number[]>();
  private readonly log: Logger;
  private readonly compression: CompressionTypes;

  constructor(readonly config: KafkaConfig, private readonly ctx: DestinationContext) {
    this.kind = config.kind;
    this.name = ctx.name;
    this.log = ctx.log.child({ destination: ctx.name, kind: config.kind });
    this.compression = config.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  }

  async open(): Promise<void> {
    if (this.producer) return;
    const log = this.log;
    const c = this.config;
    const kafka = new Kafka({
      brokers: c.brokers,
      clientId: c.clientId,
      ssl: c.tls,
      sasl: c.sasl as SASLOptions | undefined,
      connectionTimeout: c.connectTimeoutMs,
      requestTimeout: c.requestTimeoutMs,
      // withRetry (below) is the one retry loop; kafkajs itself does not retry.
      retry: { retries: 0 },
      logLevel: logLevel.WARN,
      logCreator: () => (entry: LogEntry) => log.debug(`kafkajs: ${entry.log.message}`, { namespace: entry.namespace }),
    });
    const producer = kafka.producer({ allowAutoTopicCreation: true, idempotent: false, retry: { retries: 0 } });
    try {
      await producer.connect();
    } catch (e) {
      await producer.disconnect().catch(() => undefined);
      throw this.wrap(e, `cannot connect to brokers ${c.brokers.join(',')} (${c.fields.brokers})`);
    }
    this.kafka = kafka;
    this.producer = producer;
    if (c.acks === 0) this.log.warn('acks=0: the broker does not acknowledge records, so a crash can lose a batch the checkpoint already passed');
  }

  async write(batch: EncodedBatch): Promise<void> {
    if (batch.changes.length === 0) return;
    const producer = this.requireProducer();
    const format = this.ctx.wireFormat;
    const records = recordsOf(batch, format, getCodec(format).contentType, this.config.topic);
    await deliverInLanes(
      records,
      { parallelism: this.ctx.parallelism, laneKey: (r) => `${r.topic}\n${r.key}`, isBarrier: (r) => r.broadcast },
      async (lane, stopped) => {
        for (const chunk of chunkRecords(lane, this.config.maxRequestBytes)) {
          if (stopped()) return;
          await this.send(producer, chunk);
        }
      },
    );
  }

  async close(): Promise<void> {
    const producer = this.producer;
    const admin = this.admin;
    this.producer = undefined;
    this.admin = undefined;
    this.kafka = undefined;
    await Promise.allSettled([producer?.disconnect(), admin?.disconnect()]);
  }

  /** One produce request (records grouped by topic), retried per the destination's policy. */
  private async send(producer: Producer, chunk: OutgoingRecord[]): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    for (const r of chunk) {
      let list = byTopic.get(r.topic);
      if (!list) byTopic.set(r.topic, (list = []));
      const base: Message = { key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp };
      if (r.broadcast) for (const partition of await this.partitionsOf(r.topic)) list.push({ ...base, partition });
      else list.push(base);
    }
    const topicMessages = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    const topics = [...byTopic.keys()].join(', ');
    await withRetry(
      async () => {
        try {
          await producer.sendBatch({ topicMessages, acks: this.config.acks, compression: this.compression, timeout: this.config.requestTimeoutMs });
        } catch (e) {
          throw this.wrap(e, `producing ${chunk.length} record(s) to ${topics} failed`);
        }
      },
      this.config.retry,
      { onRetry: (e, attempt, delayMs) => this.log.warn('produce failed; retrying', { attempt, delayMs, error: (e as Error).message }) },
    );
  }

  /** Partitions of `topic` (for truncates); a metadata request creates a missing topic where the broker auto-creates. */
  private async partitionsOf(topic: string): Promise<number[]> {
    const known = this.partitions.get(topic);
    if (known) return known;
    const kafka = this.kafka!;
    this.admin ??= kafka.admin({ retry: { retries: 0 } });
    const admin = this.admin;
    const ids = await withRetry(async () => {
      try {
        await admin.connect();
        const md = await admin.fetchTopicMetadata({ topics: [topic] });
        const found = md.topics[0]?.partitions.map((p) => p.partitionId).sort((a, b) => a - b) ?? [];
        if (found.length === 0) throw new DuctError('unavailable', `topic ${topic} has no partitions yet`, { retry: 'backoff' });
        return found;
      } catch (e) {
        throw this.wrap(e, `reading the partitions of ${topic} failed`);
      }
    }, { ...this.config.retry, maxAttempts: Math.max(3, this.config.retry.maxAttempts) });
    this.partitions.set(topic, ids);
    return ids;
  }

  private wrap(e: unknown, what: string): DuctError {
    return kafkaError(e, what, { kind: this.kind, name: this.name, fields: this.config.fields });
  }

  private requireProducer(): Producer {
    if (!this.producer) throw new DuctError('failed_precondition', `${this.kind} destination "${this.name}" is not open`, { retry: 'never', hint: 'call open() first' });
    return this.producer;
  }
}
