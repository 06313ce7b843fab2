import { groupByTable } from '../../core/change';
import { DuctError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { SourceRowReader } from '../../core/sourceRows';
import { formatLsn } from '../../core/lsn';
import { formatCommitLsn } from '../../wire/envelope';
import { withRetry } from '../../core/retry';
import type { Codec } from '../../wire/codec';
import { getCodec } from '../../wire/registry';
import type { TableSchema } from '../../core/change';
import type { EncodedBatch, EventDestination } from '../destination';
import { batchIdempotencyKey, idempotencyKey, qualifiedName } from '../idempotency';
import { eventsWithSource, type OutgoingEvent } from '../keyChanges';
import { AVRO_SCHEMA_HEADER, SchemaCarrier } from '../schemaCarrier';
import { deliverInLanes } from '../lanes';
import type { DestinationContext } from '../registry';
import { TransportError, WebhookClient } from './client';
import { displayUrl, type HttpConfig } from './config';
import { responseError, transportFailure, WebhookError, type WebhookErrorContext } from './errors';
import { scrubHeaderValues } from './headers';
import { requireOpen } from '../requireOpen';
import { KeyMoveTables } from '../keyMoves';

/**
 * Pushes changes to a webhook endpoint.
 *
 * Contract (beyond `EventDestination`'s: at-least-once, deduplicated by idempotency key):
 * - `open()` checks that the endpoint accepts TCP connections; otherwise it fails with a DuctError
 *   naming the destination and `url` (retry `backoff`).
 * - `mode=change` (default): one request per change, body = the change in the wire format
 *   (`Content-Type` names it), headers = the `headers` option, `<idempotency_header>: <key>` (see
 *   src/destinations/idempotency.ts) and `X-Ductstream-Op`, `-Table`, `-Lsn`, `-Commit-Lsn`, `-Seq`.
 *   Changes of one row are sent one after another in commit order; with `parallelism` > 1, up to
 *   that many rows' lanes send concurrently; a truncate waits for everything before it. An update
 *   that changes the primary key is preceded by a delete of the old key (`X-Ductstream-Op: delete`,
 *   sent in the old key's lane), so key-based consumers drop the old row. With `format=avro`, the
 *   writer schema (JSON) travels in the `ductstream-avro-schema` header (percent-encoded when the
 *   table's names are not ASCII). With `schema_registry_url`, avro and proto bodies are instead in the
 *   Confluent wire format (magic byte, schema id, and for proto the message index), the schema
 *   registered under the subject `<schema>.<table>-value`; the webhook's `headers` never go to the
 *   registry.
 * - `mode=batch`: one request per table per batch, body = the table's changes as one file of the
 *   format (json lines for json), `X-Ductstream-Count` and `-First-Lsn`/`-Last-Lsn` headers, and an
 *   idempotency key of the table and the batch's first and last positions.
 * - `write` resolves when every request got a 2xx answer: at-least-once. A request is retried
 *   (`withRetry`: max_retries, backoff_base/max/factor, jitter) on 5xx, 408, 429 (waiting at least
 *   Retry-After), timeouts and connection errors; a retry carries the same idempotency key, so the
 *   endpoint can drop duplicates. Any other answer (3xx, 4xx) is permanent: `write` fails with retry
 *   `never`, naming the status, and the flow stops with that reason. When retries run out the error
 *   keeps its class (`backoff`), so the runner may retry the batch later.
 * - Header values never appear in errors or logs (peer answers are scrubbed of them).
 */
export class HttpDestination implements EventDestination {
  readonly delivery = 'at_least_once' as const;
  readonly kind = 'http';
  readonly name: string;
  private client?: WebhookClient;
  private readonly log: Logger;
  private readonly errorContext: WebhookErrorContext;
  private readonly carrier: SchemaCarrier;
  /** Key moves of the open transaction across writes (a swap cut between batches). */
  private readonly keyMoves = new KeyMoveTables();
  /** The source's rows by key, for keys a transaction moved a row into and out of again (see `eventsWithSource`). */
  private sourceRows: SourceRowReader | undefined;

  constructor(
    readonly config: HttpConfig,
    private readonly ctx: DestinationContext,
  ) {
    this.name = ctx.name;
    this.log = ctx.log.child({ destination: ctx.name, kind: 'http' });
    this.carrier = new SchemaCarrier(ctx.wireFormat, config.schemaRegistryUrl, config.fields.schemaRegistryUrl);
    this.errorContext = {
      target: `http destination "${ctx.name}": ${config.method} ${displayUrl(config.url)}`,
      urlField: config.fields.url,
      scrub: (text) => scrubHeaderValues(text, config.headers),
    };
  }

  async open(): Promise<void> {
    if (this.client) return;
    const client = new WebhookClient(this.config.url, this.config.timeoutMs, this.ctx.parallelism, this.config.headers);
    try {
      await client.probe();
    } catch (e) {
      await client.close();
      const code = e instanceof TransportError ? e.code : 'EIO';
      throw new DuctError(
        'unavailable',
        `http destination "${this.name}": cannot connect to ${displayUrl(this.config.url)} (${this.config.fields.url}): ${code}`,
        {
          retry: 'backoff',
          hint: `check that ${this.config.fields.url} points at a listening endpoint`,
        },
      );
    }
    this.client = client;
    this.sourceRows = this.ctx.sourceRows?.();
  }

  async write(batch: EncodedBatch): Promise<void> {
    if (batch.changes.length === 0) return;
    const client = this.requireClient();
    const codec = getCodec(this.ctx.wireFormat);
    if (this.config.mode === 'batch') return this.writeFiles(client, batch, codec);
    const bodies = batch.messages(codec.format);
    // A key change is sent as a delete of the old key (in that key's lane), then the update.
    const items = await eventsWithSource(batch, false, this.keyMoves, this.sourceRows, this.log);
    const contentType = codec.contentType;
    const idempotencyHeader = this.config.idempotencyHeader;
    const frame = await this.framers(items);
    await deliverInLanes(
      items,
      { parallelism: this.ctx.parallelism, laneKey: (it) => `${qualifiedName(it.change)}\n${it.rowKey}`, isBarrier: (it) => it.change.op === 'truncate' },
      async (lane, stopped) => {
        for (const { kind, change, index, rowKey, schema } of lane) {
          if (stopped()) return;
          const table = qualifiedName(change);
          const body = kind === 'change' ? bodies[index]! : codec.encodeMessage(change, schema);
          await this.send(
            client,
            frame ? frame(schema, body) : body,
            [
              'Content-Type',
              contentType,
              idempotencyHeader,
              idempotencyKey(change, schema, rowKey, table),
              'X-Ductstream-Op',
              change.op,
              'X-Ductstream-Table',
              headerSafe(table),
              'X-Ductstream-Lsn',
              formatLsn(change.lsn),
              'X-Ductstream-Commit-Lsn',
              formatCommitLsn(change.commitLsn),
              'X-Ductstream-Seq',
              String(change.seq),
              ...(this.carrier.usesSchemaHeader ? [AVRO_SCHEMA_HEADER, headerSafe(this.carrier.schemaHeader(schema))] : []),
            ],
            stopped,
          );
        }
      },
    );
  }

  /** With a registry: a framer per table schema (registered once under `<schema>.<table>-value`); otherwise undefined. */
  private async framers(items: readonly OutgoingEvent[]): Promise<((schema: TableSchema, body: Uint8Array) => Uint8Array) | undefined> {
    if (!this.carrier.framed) return undefined;
    const bySchema = new Map<TableSchema, (body: Uint8Array) => Uint8Array>();
    for (const { change, schema } of items)
      if (!bySchema.has(schema)) bySchema.set(schema, await this.carrier.framer(`${qualifiedName(change)}-value`, schema));
    return (schema, body) => bySchema.get(schema)!(body);
  }

  async close(): Promise<void> {
    const client = this.client;
    const sourceRows = this.sourceRows;
    this.client = undefined;
    this.sourceRows = undefined;
    await sourceRows?.close().catch(() => undefined);
    await client?.close();
  }

  private async writeFiles(client: WebhookClient, batch: EncodedBatch, codec: Codec): Promise<void> {
    const files = batch.files(codec.format);
    const tables = [...groupByTable(batch.changes)];
    await deliverInLanes(tables, { parallelism: this.ctx.parallelism, laneKey: ([k]) => k }, async (lane, stopped) => {
      for (const [k, changes] of lane) {
        if (stopped()) return;
        const first = changes[0]!;
        const last = changes[changes.length - 1]!;
        await this.send(
          client,
          files.get(k)!,
          [
            'Content-Type',
            codec.fileContentType,
            this.config.idempotencyHeader,
            batchIdempotencyKey(first, last),
            'X-Ductstream-Table',
            headerSafe(k),
            'X-Ductstream-Count',
            String(changes.length),
            'X-Ductstream-First-Lsn',
            formatLsn(first.commitLsn),
            'X-Ductstream-Last-Lsn',
            formatLsn(last.commitLsn),
          ],
          stopped,
        );
      }
    });
  }

  /** One request (`headers`: name/value pairs besides the configured ones), retried per the destination's policy until a 2xx answer or a permanent failure. */
  private async send(client: WebhookClient, body: Uint8Array, headers: string[], stopped: () => boolean): Promise<void> {
    await withRetry(
      async () => {
        let failure: WebhookError | undefined;
        try {
          failure = responseError(await client.request(this.config.method, headers, body), this.errorContext);
        } catch (e) {
          if (!(e instanceof TransportError)) throw e;
          failure = transportFailure(e, this.errorContext);
        }
        if (failure) throw failure;
      },
      this.config.retry,
      {
        suggestedDelayMs: (e) => (e instanceof WebhookError ? e.retryAfterMs : undefined),
        aborted: stopped,
        onRetry: (e, attempt, delayMs) => this.log.warn('webhook delivery failed; retrying', { attempt, delayMs, error: (e as Error).message }),
      },
    );
  }

  private requireClient(): WebhookClient {
    return requireOpen(this.client, this.kind, this.name);
  }
}

/** Header values must be visible ASCII: other table names travel percent-encoded. */
function headerSafe(text: string): string {
  return /^[\x20-\x7e]*$/.test(text) ? text : encodeURIComponent(text);
}
