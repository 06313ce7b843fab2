/**
 * Conformance reader of the `pgstream` destination: one PostgreSQL database per test file, a fresh
 * stream per target, read back through a fresh consumer group of the stream service (pull until
 * empty, ack), payloads decoded with the target's wire format. pgstream deduplicates on
 * (commit LSN, seq), so the reader fails on any change stored twice: replays and crashes must
 * not duplicate events.
 */
import { randomBytes } from 'node:crypto';
import { tableKey } from '../../../src/core/change';
import { StreamService } from '../../../src/services/streams';
import type { WireFormat } from '../../../src/wire/codec';
import { getCodec } from '../../../src/wire/registry';
import { createTestDatabase, type TestDatabase } from '../../support/pg';
import type { ConformanceSubject, DeliveredEvent } from '../subject';

export function pgstreamSubject(formats: WireFormat[]): ConformanceSubject {
  let db: TestDatabase | undefined;
  let service: StreamService | undefined;
  return {
    type: 'pgstream',
    label: `pgstream (${formats[0]})`,
    formats,
    async start() {
      db = await createTestDatabase('conf_pgstream');
      service = new StreamService({ dsn: db.dsn, poolMax: 2 });
    },
    async stop() {
      await service?.close();
      await db?.drop();
    },
    async target(scenario, format) {
      const stream = `conf_${scenario}_${randomBytes(3).toString('hex')}`;
      const fmt = format ?? 'json';
      return {
        options: { dsn: db!.dsn, stream, format: fmt },
        async read(schemas) {
          const bySchema = new Map(schemas.map((s) => [tableKey(s), s]));
          const group = `reader_${randomBytes(3).toString('hex')}`;
          const events: DeliveredEvent[] = [];
          const positions = new Set<string>();
          for (;;) {
            const { messages } = await service!.pull({ stream, group, maxMessages: 5000, visibilitySeconds: 600, consumerId: 'conformance' });
            if (messages.length === 0) break;
            for (const m of messages) {
              const where = `${stream}#${m.id}`;
              const schema = bySchema.get(`${m.schema}.${m.table}`);
              if (!schema) throw new Error(`${where}: an event of table ${m.schema}.${m.table}, which the scenario did not write`);
              if (m.format !== fmt) throw new Error(`${where}: format ${m.format}, expected ${fmt}`);
              const envelope = getCodec(fmt).decodeMessage(m.payload, schema);
              if (envelope.commit_lsn !== m.commitLsn || envelope.seq !== m.seq || envelope.lsn !== m.lsn || envelope.op !== m.op) {
                throw new Error(
                  `${where}: columns (${m.commitLsn}/${m.seq} ${m.op}) disagree with the payload (${envelope.commit_lsn}/${envelope.seq} ${envelope.op})`,
                );
              }
              const position = `${m.commitLsn}/${m.seq}`;
              if (positions.has(position)) throw new Error(`${where}: change ${position} is stored twice`);
              positions.add(position);
              events.push({ envelope, id: position, where });
            }
            const acked = await service!.ack({ stream, group, ids: messages.map((m) => m.id) });
            if (acked.acked.length !== messages.length) throw new Error(`${stream}: acked ${acked.acked.length} of ${messages.length}`);
          }
          return { shape: 'events', events };
        },
      };
    },
  };
}
