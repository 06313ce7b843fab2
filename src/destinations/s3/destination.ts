import { HeadBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { groupByTable, type Change } from '../../core/change';
import type { Logger } from '../../core/log';
import { withRetry } from '../../core/retry';
import type { Codec } from '../../wire/codec';
import { getCodec } from '../../wire/registry';
import type { EncodedBatch, EventDestination } from '../destination';
import { deliverInLanes } from '../lanes';
import type { DestinationContext } from '../registry';
import type { S3Config } from './config';
import { s3Error, type S3ErrorContext } from './errors';
import { objectKeyFor, positionText } from './objectKeys';
import { requireOpen } from '../requireOpen';

/**
 * Writes each batch as one object per table in the destination's wire format (json lines, parquet,
 * avro container, arrow IPC stream, length-delimited proto), under the key layout of objectKeys.ts.
 *
 * Contract (beyond `EventDestination`'s: at-least-once; readers deduplicate by (commit_lsn, seq)):
 * - `open()` checks the bucket (HeadBucket): a missing bucket or refused credentials fail with
 *   retry `never`, an unreachable endpoint with `backoff`; the error names the destination and option.
 * - `write(batch)` resolves when every object is stored (a successful PutObject is durable). Objects
 *   of different tables are written concurrently, up to `parallelism`; retries (withRetry:
 *   max_retries, backoff_*) cover throttling, 5xx, timeouts and network errors.
 * - Replays are idempotent: the same batch writes the same keys with the same bytes; a batch cut
 *   differently after a restart writes new keys whose changes overlap earlier objects, which
 *   readers drop by (commit LSN, seq) — every change is in at least one object (at-least-once).
 * - Object metadata: `ductstream-format`, `ductstream-count`, `ductstream-first`, `ductstream-last`
 *   (stream positions as in the key), `ductstream-flow`.
 */
export class S3Destination implements EventDestination {
  readonly delivery = 'at_least_once' as const;
  readonly kind = 's3';
  readonly name: string;
  private client?: S3Client;
  private readonly log: Logger;
  private readonly errorContext: S3ErrorContext;

  constructor(
    readonly config: S3Config,
    private readonly ctx: DestinationContext,
  ) {
    this.name = ctx.name;
    this.log = ctx.log.child({ destination: ctx.name, kind: 's3' });
    this.errorContext = { name: ctx.name, bucket: config.bucket, fields: config.fields };
  }

  async open(): Promise<void> {
    if (this.client) return;
    const c = this.config;
    const client = new S3Client({
      region: c.region,
      ...(c.endpoint ? { endpoint: c.endpoint } : {}),
      forcePathStyle: c.forcePathStyle,
      ...(c.credentials ? { credentials: c.credentials } : {}),
      // withRetry (below) is the one retry loop.
      maxAttempts: 1,
      requestHandler: { requestTimeout: c.requestTimeoutMs, connectionTimeout: Math.min(10_000, c.requestTimeoutMs) },
    });
    try {
      await client.send(new HeadBucketCommand({ Bucket: c.bucket }));
    } catch (e) {
      client.destroy();
      throw s3Error(e, `cannot open the bucket (${c.fields.bucket})`, this.errorContext);
    }
    this.client = client;
  }

  async write(batch: EncodedBatch): Promise<void> {
    if (batch.changes.length === 0) return;
    const client = this.requireClient();
    const codec = this.codec();
    const byTable = groupByTable(batch.changes);
    // The memoized encodings serve the default codec; another parquet compression encodes here.
    const shared = codec === getCodec(codec.format) ? batch.files(codec.format) : undefined;
    await deliverInLanes([...byTable], { parallelism: this.ctx.parallelism, laneKey: ([k]) => k }, async (lane, stopped) => {
      for (const [k, changes] of lane) {
        if (stopped()) return;
        const body = shared?.get(k) ?? codec.encodeFile(changes, batch.schemas.get(k)!);
        await this.put(client, codec, changes, body, stopped);
      }
    });
  }

  async close(): Promise<void> {
    this.client?.destroy();
    this.client = undefined;
  }

  private async put(client: S3Client, codec: Codec, changes: Change[], body: Uint8Array, stopped: () => boolean): Promise<void> {
    const first = changes[0]!;
    const last = changes[changes.length - 1]!;
    const key = objectKeyFor(this.config.prefix, first.table, first, last, codec.fileExtension);
    await withRetry(
      async () => {
        try {
          await client.send(
            new PutObjectCommand({
              Bucket: this.config.bucket,
              Key: key,
              Body: body,
              ContentType: codec.fileContentType,
              Metadata: {
                'ductstream-format': codec.format,
                'ductstream-count': String(changes.length),
                'ductstream-first': positionText(first),
                'ductstream-last': positionText(last),
                'ductstream-flow': this.ctx.flowId,
              },
            }),
          );
        } catch (e) {
          throw s3Error(e, `writing ${key} failed`, this.errorContext);
        }
      },
      this.config.retry,
      { aborted: stopped, onRetry: (e, attempt, delayMs) => this.log.warn('object write failed; retrying', { attempt, delayMs, error: (e as Error).message }) },
    );
  }

  private codec(): Codec {
    const format = this.ctx.wireFormat;
    return format === 'parquet' ? getCodec(format, { compression: this.config.parquetCompression }) : getCodec(format);
  }

  private requireClient(): S3Client {
    return requireOpen(this.client, this.kind, this.name);
  }
}
