/**
 * Conformance reader of the `s3` destination: one s3rver per test file, a key prefix per target,
 * objects listed in key order (= stream order per table) and decoded with the target's format.
 * A change's identity is its stream position (objects of a replayed batch may overlap).
 */
import { randomBytes } from 'node:crypto';
import type { WireFormat } from '../../../src/wire/codec';
import { getCodec } from '../../../src/wire/registry';
import { tableFolder } from '../../../src/destinations/s3/objectKeys';
import { startS3Server, type S3Server } from '../../support/peers/s3Server';
import { positionOf } from '../materialize';
import type { ConformanceSubject, DeliveredEvent } from '../subject';

const BUCKET = 'conformance';

export function s3Subject(formats: WireFormat[]): ConformanceSubject {
  let server: S3Server | undefined;
  return {
    type: 's3',
    label: `s3 (${formats[0]})`,
    formats,
    async start() {
      server = await startS3Server([BUCKET]);
    },
    async stop() {
      await server?.stop();
    },
    async target(scenario, format) {
      const prefix = `conf/${scenario}_${randomBytes(3).toString('hex')}/`;
      const fmt = format ?? 'json';
      const codec = getCodec(fmt);
      return {
        options: { bucket: BUCKET, prefix, format: fmt, ...server!.clientOptions },
        async read(schemas) {
          const byFolder = new Map(schemas.map((s) => [`${prefix}${tableFolder(s)}/`, s]));
          const events: DeliveredEvent[] = [];
          for (const o of await server!.readObjects(BUCKET, prefix)) {
            const folder = o.key.slice(0, o.key.lastIndexOf('/') + 1);
            const schema = byFolder.get(folder);
            if (!schema) throw new Error(`object ${o.key} is outside every table folder`);
            if (o.contentType !== codec.fileContentType) throw new Error(`object ${o.key}: content type ${o.contentType}`);
            if (!o.key.endsWith(`.${codec.fileExtension}`)) throw new Error(`object ${o.key}: extension is not .${codec.fileExtension}`);
            const envelopes = codec.decodeFile(o.body, schema);
            if (o.metadata['ductstream-count'] !== String(envelopes.length) || o.metadata['ductstream-format'] !== fmt) {
              throw new Error(`object ${o.key}: metadata ${JSON.stringify(o.metadata)} disagrees with its ${envelopes.length} changes`);
            }
            for (const envelope of envelopes) events.push({ envelope, id: positionOf(envelope), where: o.key });
          }
          return { shape: 'events', events };
        },
      };
    },
  };
}
