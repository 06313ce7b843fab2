import type { DestinationKind } from '../registry';
import { parseS3Config, type S3Config } from './config';

/**
 * The `s3` destination kind: one object per batch per table in the wire format, on AWS S3 or any
 * S3-compatible store. Parsing the options loads no driver; `create` imports @aws-sdk/client-s3 lazily.
 */
export const s3DestinationKind: DestinationKind<S3Config> = {
  kind: 's3',
  usesWireFormat: true,
  parseConfig: parseS3Config,
  async create(config, ctx) {
    const { S3Destination } = await import('./destination');
    return new S3Destination(config, ctx);
  },
};

export type { S3Config } from './config';
