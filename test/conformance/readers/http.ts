/**
 * Conformance reader of the `http` destination: one webhook peer per test file that fails some
 * requests on purpose (503, 429 with Retry-After, connection resets), a path per target, and the
 * requests it answered 2xx decoded with the target's wire format. In `mode=batch` each request is
 * a file of one table's changes; a change's identity is then its stream position.
 */
import { randomBytes } from 'node:crypto';
import { tableKey, type TableSchema } from '../../../src/core/change';
import type { WireFormat } from '../../../src/wire/codec';
import { getCodec } from '../../../src/wire/registry';
import { startHttpPeer, type HttpPeer } from '../../support/peers/httpPeer';
import { positionOf } from '../materialize';
import type { ConformanceSubject, DeliveredEvent } from '../subject';

export function httpSubject(formats: WireFormat[], mode: 'change' | 'batch' = 'change'): ConformanceSubject {
  let peer: HttpPeer | undefined;
  return {
    type: 'http',
    label: `http (${formats[0]}, mode=${mode}, with injected 503/429/resets)`,
    formats,
    largeBatchRows: mode === 'change' ? 2500 : 10_000,
    async start() {
      peer = await startHttpPeer();
      // Every 17th request answers 503, every 29th is reset after it was read (the peer got it, the
      // client cannot know: a duplicate follows), every 41st is rate-limited.
      peer.setPolicy((_req, n) =>
        n % 17 === 0 ? { status: 503 } : n % 29 === 0 ? { reset: true } : n % 41 === 0 ? { status: 429, retryAfter: '0' } : undefined,
      );
    },
    async stop() {
      await peer?.close();
    },
    async target(scenario, format) {
      const path = `/hook/${scenario}_${randomBytes(3).toString('hex')}`;
      const fmt = format ?? 'json';
      const codec = getCodec(fmt);
      return {
        options: {
          url: `${peer!.url}${path}`,
          format: fmt,
          mode,
          headers: 'Authorization:Bearer conformance-secret,X-Team:cdc',
          max_retries: '20',
          backoff_base: '1ms',
          backoff_max: '20ms',
          timeout: '5s',
        },
        async read(schemas: TableSchema[]) {
          const bySchema = new Map(schemas.map((s) => [tableKey(s), s]));
          const events: DeliveredEvent[] = [];
          for (const req of peer!.delivered(path)) {
            const where = `request #${req.n}`;
            const table = decodeURIComponent(String(req.headers['x-ductstream-table']));
            const schema = bySchema.get(table);
            if (!schema) throw new Error(`${where}: unknown table header ${table}`);
            if (req.headers.authorization !== 'Bearer conformance-secret' || req.headers['x-team'] !== 'cdc')
              throw new Error(`${where}: configured headers missing`);
            const key = String(req.headers['idempotency-key'] ?? '');
            if (!/^[0-9a-f]{64}$/.test(key)) throw new Error(`${where}: Idempotency-Key is ${key}`);
            if (mode === 'change') {
              if (req.headers['content-type'] !== codec.contentType) throw new Error(`${where}: content-type ${req.headers['content-type']}`);
              const envelope = codec.decodeMessage(req.body, schema);
              if (req.headers['x-ductstream-op'] !== envelope.op || req.headers['x-ductstream-lsn'] !== envelope.lsn)
                throw new Error(`${where}: headers disagree with the body`);
              events.push({ envelope, id: key, where });
            } else {
              if (req.headers['content-type'] !== codec.fileContentType) throw new Error(`${where}: content-type ${req.headers['content-type']}`);
              const envelopes = codec.decodeFile(req.body, schema);
              if (String(envelopes.length) !== req.headers['x-ductstream-count']) throw new Error(`${where}: count header disagrees with the body`);
              for (const envelope of envelopes) events.push({ envelope, id: positionOf(envelope), where });
            }
          }
          return { shape: 'events', events };
        },
      };
    },
  };
}
