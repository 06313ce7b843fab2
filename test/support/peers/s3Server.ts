/**
 * A real S3-compatible server for tests: `s3rver` in this process, on an ephemeral port, storing
 * under a temporary directory, with the buckets asked for. `readObjects` lists a prefix and reads
 * every object back (bodies consumed, so `stop()` never hangs). Keep listings under 1,000 keys:
 * s3rver's paginated ListObjectsV2 fails on Node 20 without `--openssl-legacy-provider`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}
type S3rverConstructor = new (opts: Record<string, unknown>) => S3rverInstance;

export interface StoredObject {
  key: string;
  body: Buffer;
  contentType?: string;
  metadata: Record<string, string>;
}

export interface S3Server {
  endpoint: string;
  /** Options an s3 destination needs to reach `bucket` here (besides bucket/prefix). */
  clientOptions: Record<string, string>;
  /** Every object under `prefix` in `bucket`, in key order. */
  readObjects(bucket: string, prefix: string): Promise<StoredObject[]>;
  stop(): Promise<void>;
}

export async function startS3Server(buckets: string[]): Promise<S3Server> {
  const S3rver = require('s3rver') as S3rverConstructor;
  const dir = mkdtempSync(join(tmpdir(), 'ductstream-s3rver-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', directory: dir, silent: true, configureBuckets: buckets.map((name) => ({ name })) });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  return {
    endpoint,
    clientOptions: { endpoint, region: 'us-east-1', force_path_style: 'true', access_key_id: 'S3RVER', secret_access_key: 'S3RVER' },
    async readObjects(bucket, prefix) {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1000 }));
      if (listed.IsTruncated) throw new Error(`more than 1000 objects under ${prefix}: s3rver cannot paginate on Node 20`);
      const out: StoredObject[] = [];
      for (const o of listed.Contents ?? []) {
        const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }));
        const body = Buffer.from(await got.Body!.transformToByteArray());
        out.push({ key: o.Key!, body, contentType: got.ContentType, metadata: got.Metadata ?? {} });
      }
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },
    async stop() {
      client.destroy();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
