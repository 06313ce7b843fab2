/**
 * Conformance reader of the `kafka` and `bufstream` destinations: one mock broker per test file
 * (kcat), a topic per table per target (`<target>.{schema}.{table}`), records consumed back with
 * kcat and decoded with the target's wire format. Every record's headers must agree with its value.
 */
import { randomBytes } from 'node:crypto';
import { tableKey } from '../../../src/core/change';
import type { WireFormat } from '../../../src/wire/codec';
import { getCodec } from '../../../src/wire/registry';
import { startKafkaBroker, type KafkaBroker } from '../../support/peers/kafkaBroker';
import type { ConformanceSubject, DeliveredEvent } from '../subject';

export function kafkaSubject(type: 'kafka' | 'bufstream', formats: WireFormat[], extra: Record<string, string> = {}): ConformanceSubject {
  let broker: KafkaBroker | undefined;
  return {
    type,
    label: `${type} (${formats[0]}${extra.compression ? `, ${extra.compression}` : ''})`,
    formats,
    async start() {
      broker = await startKafkaBroker();
    },
    async stop() {
      await broker?.stop();
    },
    async target(scenario, format) {
      const prefix = `conf_${scenario}_${randomBytes(3).toString('hex')}`;
      const fmt = format ?? 'json';
      const codec = getCodec(fmt);
      return {
        options: { brokers: broker!.bootstrap, topic: `${prefix}.{schema}.{table}`, format: fmt, ...extra },
        async read(schemas) {
          const events: DeliveredEvent[] = [];
          for (const schema of schemas) {
            const topic = `${prefix}.${schema.schema}.${schema.name}`;
            for (const r of await broker!.readTopic(topic)) {
              const where = `${topic}/${r.partition}@${r.offset}`;
              if (!r.value) {
                // A tombstone: after a delete of the same key, for log compaction.
                if (r.headers.op !== 'tombstone') throw new Error(`${where}: record without a value that is not a tombstone`);
                continue;
              }
              const envelope = codec.decodeMessage(r.value, schema);
              const h = r.headers;
              const expectHeaders = {
                op: envelope.op,
                table: tableKey(schema),
                lsn: envelope.lsn,
                commit_lsn: envelope.commit_lsn,
                seq: String(envelope.seq),
                'content-type': codec.contentType,
              };
              for (const [k, v] of Object.entries(expectHeaders)) {
                if (h[k] !== v) throw new Error(`${where}: header ${k}=${h[k]} but the record says ${v}`);
              }
              if (!/^[0-9a-f]{64}$/.test(h.idempotency_key ?? '')) throw new Error(`${where}: idempotency_key header is ${h.idempotency_key}`);
              if (envelope.op !== 'truncate' && (!r.key || r.key.length === 0)) throw new Error(`${where}: a row change without a key`);
              events.push({ envelope, id: h.idempotency_key!, where });
            }
          }
          return { shape: 'events', events };
        },
      };
    },
  };
}
