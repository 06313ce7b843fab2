import { DuctError } from '../../core/errors';
import type { ProducerCluster } from './cluster';
import { chunkRecords, type OutgoingRecord } from './messages';
import { partitionOfKey } from './murmur2';
import { ProduceRequestEncoder, type PartitionRecords, type RecordCompression, type TopicRecords } from './recordBatch';

export interface ProducerOptions {
  acks: -1 | 0 | 1;
  timeoutMs: number;
  compression: RecordCompression;
  maxRequestBytes: number;
  headerNames: readonly string[];
  asciiHeaders?: readonly boolean[];
}

/** A record bound to one partition (a truncate becomes one delivery per partition). */
interface Delivery {
  record: OutgoingRecord;
  partition: number;
  size: number;
  acked: boolean;
}

/**
 * Produces the records of one write, as few requests as possible: every record for the partitions a
 * broker leads goes into one produce request to that broker (all topics and partitions together),
 * cut into several requests only past `maxRequestBytes`; those are sent one after another, so each
 * partition receives its records in batch order. Brokers are written concurrently.
 *
 * Partitions are chosen as kafkajs's default partitioner does (murmur2 of the key), once per write:
 * a retry keeps them. `attempt()` may be called again after a failure (the caller's retry loop): it
 * reloads metadata and sends only the records whose partition did not acknowledge them yet, so a
 * retry duplicates as little as possible (at-least-once; consumers deduplicate by idempotency key).
 */
export class RecordWrite {
  private deliveries?: Delivery[];
  private readonly topics: string[];
  private attempts = 0;

  constructor(
    private readonly cluster: ProducerCluster,
    private readonly encoder: ProduceRequestEncoder,
    private readonly o: ProducerOptions,
    private readonly records: readonly OutgoingRecord[],
  ) {
    this.topics = [...new Set(records.map((r) => r.topic))];
  }

  /** The distinct topics of the write, in first-seen order. */
  topicNames(): string[] {
    return this.topics;
  }

  async attempt(): Promise<void> {
    if (this.attempts++ > 0) await this.cluster.recover();
    await this.cluster.ensureTopics(this.topics);
    const deliveries = (this.deliveries ??= this.assign());
    const leaders = new Map<string, Map<number, number>>();
    for (const t of this.topics) leaders.set(t, new Map(this.cluster.partitions(t).map((p) => [p.partitionId, p.leader])));
    const byLeader = new Map<number, Delivery[]>();
    for (const d of deliveries) {
      if (d.acked) continue;
      const leader = leaders.get(d.record.topic)!.get(d.partition) ?? -1;
      if (leader < 0) throw new DuctError('unavailable', `partition ${d.partition} of topic ${d.record.topic} has no leader right now`, { retry: 'backoff' });
      let list = byLeader.get(leader);
      if (!list) byLeader.set(leader, (list = []));
      list.push(d);
    }
    let failed = false;
    const results = await Promise.allSettled(
      [...byLeader].map(async ([leader, list]) => {
        for (const chunk of chunkRecords(list, this.o.maxRequestBytes)) {
          if (failed) return;
          try {
            await this.send(leader, chunk);
          } catch (e) {
            failed = true;
            throw e;
          }
        }
      }),
    );
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected) throw rejected.reason;
  }

  /** One produce request with `chunk` (grouped by topic and partition, order kept) to broker `leader`. */
  private async send(leader: number, chunk: Delivery[]): Promise<void> {
    const topics = new Map<string, Map<number, OutgoingRecord[]>>();
    for (const d of chunk) {
      let parts = topics.get(d.record.topic);
      if (!parts) topics.set(d.record.topic, (parts = new Map<number, OutgoingRecord[]>()));
      let list = parts.get(d.partition);
      if (!list) parts.set(d.partition, (list = []));
      list.push(d.record);
    }
    const request: TopicRecords[] = [];
    for (const [topic, parts] of topics) {
      const partitions: PartitionRecords[] = [];
      for (const [partition, records] of parts) partitions.push({ partition, records });
      request.push({ topic, partitions });
    }
    const frame = await this.encoder.encode(request, this.cluster.headerRoom);
    const acks = await this.cluster.produce(leader, frame, this.o.acks);
    if (this.o.acks === 0) {
      // No answer: the socket may still be writing the frame, so it is not reused.
      for (const d of chunk) d.acked = true;
      return;
    }
    // The broker answered, so it has read the whole request: the frame can be written over.
    this.encoder.release(frame);
    // Only partitions the broker answered for without error count as written.
    let firstError = 0;
    // Partitions that took their records, by topic (no per-record key strings).
    const accepted = new Map<string, Set<number>>();
    for (const a of acks) {
      if (a.errorCode !== 0) {
        firstError ||= a.errorCode;
        continue;
      }
      let parts = accepted.get(a.topic);
      if (!parts) accepted.set(a.topic, (parts = new Set()));
      parts.add(a.partition);
    }
    let missing: Delivery | undefined;
    for (const d of chunk) {
      if (accepted.get(d.record.topic)?.has(d.partition) === true) d.acked = true;
      else missing ??= d;
    }
    if (firstError !== 0) throw this.cluster.errorOf(firstError);
    if (missing)
      throw new DuctError('unavailable', `broker ${leader} did not acknowledge partition ${missing.partition} of topic ${missing.record.topic}`, {
        retry: 'backoff',
      });
  }

  /** Binds every record to its partition(s), in batch order. */
  private assign(): Delivery[] {
    const counts = new Map<string, number[]>();
    for (const t of this.topics) {
      const ids = this.cluster.partitions(t).map((p) => p.partitionId);
      if (ids.length === 0)
        throw new DuctError('unavailable', `topic ${t} has no partitions yet`, {
          retry: 'backoff',
          hint: 'the broker creates topics on first use where auto.create.topics.enable is on; otherwise create the topic',
        });
      counts.set(t, ids);
    }
    const out: Delivery[] = [];
    for (const record of this.records) {
      const ids = counts.get(record.topic)!;
      if (record.broadcast) for (const partition of ids) out.push({ record, partition, size: record.size, acked: false });
      else out.push({ record, partition: partitionOfKey(record.key, ids.length), size: record.size, acked: false });
    }
    return out;
  }
}
