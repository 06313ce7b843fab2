import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { groupByTable, type TableSchema } from '../../core/change';
import { DuctError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { SchemaChange } from '../../core/schemaChange';
import type { SourceRowReader } from '../../core/sourceRows';
import type { EncodedBatch, SchemaEvolving, TableDestination } from '../destination';
import type { DestinationContext } from '../registry';
import { qualified, type SqlDialect } from '../sql/dialect';
import { withTables } from '../sql/errors';
import { layoutSignature, tableLayout, targetName, type TableLayout } from '../sql/layout';
import { createMetaTableStatements, isApplied, parseWatermarkRows, selectWatermarks, watermarkMapKey, type Watermark } from '../sql/meta-table';
import { connectSnowflake, type SnowflakeClient } from '../snowflake/client';
import { snowflakeDialect, snowflakeTypes } from '../snowflake/dialect';
import { mergeWatermark } from '../snowflake/meta';
import type { SnowpipeConfig } from './config';
import { encodeFile, fileName, filePath, fileRecords } from './files';
import { checkSnowpipeSchemaChange } from './schemaChange';
import { completeRowImages } from './rowImages';
import { KeyMoveTables } from '../keyMoves';
import { deleteDecisions, eventsWithSource, type DeleteDecisions } from '../keyChanges';
import { Serial } from '../../core/serial';
import { requireOpen } from '../requireOpen';

/**
 * Bulk-loads batches into Snowflake through a stage: per table and batch one file (`format`) is
 * PUT to `stage`/`stage_path`/`<schema>.<table>/`, named by its first and last stream position, then
 * (`copy_on_write`) `COPY INTO schema.table ... MATCH_BY_COLUMN_NAME` loads it; with `auto_ingest`
 * the upload is all (a pipe with AUTO_INGEST, or any later COPY, loads the files).
 *
 * Contract (beyond `TableDestination`'s; applies `eventually_visible`): append-only — every change
 * is a new row (with `append_mode`/`meta_enabled`, its operation and position columns say what it
 * was). Durable when `write` resolves (the file is in the stage; with `copy_on_write` also loaded).
 * A replayed batch has the same file name and bytes, so COPY's load history skips it; with
 * `meta_table_enabled` changes at or before the table's watermark are not uploaded again either.
 * A batch cut differently on replay can append a change twice: dedupe by (`__ds_lsn`, `__ds_seq`).
 * `applySchemaChange` alters nothing: it refuses a change that COPY would lose (see
 * {@link checkSnowpipeSchemaChange}).
 * Unchanged TOAST values are completed (`completeRowImages`): a file never holds NULL for them.
 */
export class SnowpipeDestination implements TableDestination, SchemaEvolving {
  readonly kind = 'snowpipe';
  readonly applies = 'eventually_visible' as const;
  readonly name: string;
  private client: SnowflakeClient | undefined;
  private sourceRows: SourceRowReader | undefined;
  private readonly dialect: SqlDialect = snowflakeDialect('DUCTSTREAM_META', '__METADATA');
  private watermarks: Map<string, Watermark> | undefined;
  private readonly ensured = new Set<string>();
  private readonly log: Logger;
  private readonly dir = join(tmpdir(), `ductstream-snowpipe-${process.pid}`);
  private readonly serial = new Serial();
  /** DEFERRABLE-key tables: the rows their open transaction put at each key (a swap cut between batches). */
  private readonly keyMoves = new KeyMoveTables();
  /** Files uploaded and loaded by this destination (tests, benchmarks). */
  readonly stats = { files: 0, copies: 0 };

  constructor(
    readonly config: SnowpipeConfig,
    private readonly ctx: DestinationContext,
  ) {
    this.name = ctx.name;
    this.log = ctx.log.child({ destination: ctx.name, kind: 'snowpipe' });
  }

  async open(): Promise<void> {
    if (this.client) return;
    this.client = await connectSnowflake(this.config.connection, this.log);
    this.sourceRows = this.ctx.sourceRows?.();
  }

  write(batch: EncodedBatch): Promise<void> {
    return this.serial.run(() => this.writeBatch(batch));
  }

  applySchemaChange(change: SchemaChange): Promise<void> {
    return this.serial.run(() => checkSnowpipeSchemaChange(this.requireClient(), this.dialect, this.config, this.name, change));
  }

  async close(): Promise<void> {
    await this.serial.idle();
    const c = this.client;
    const sourceRows = this.sourceRows;
    this.client = undefined;
    this.sourceRows = undefined;
    await sourceRows?.close().catch(() => undefined);
    await c?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async writeBatch(batch: EncodedBatch): Promise<void> {
    const client = this.requireClient();
    const c = this.config;
    const watermarks = await this.readWatermarks(client);
    // Every change, also those the watermarks skip: a replay rebuilds what its transaction put where.
    const keyMoves = await this.keyMoveDecisions(batch);
    for (const [key, all] of groupByTable(batch.changes)) {
      const schema = batch.schemas.get(key);
      if (!schema) throw new DuctError('internal', `batch has changes of ${key} but no schema for it`, { retry: 'never' });
      const target = targetName(schema, c.tableOptions);
      const wmKey = watermarkMapKey(schema, target);
      const wm = watermarks?.get(wmKey);
      const changes = wm ? all.filter((ch) => !isApplied(wm, ch)) : all;
      if (changes.length === 0) continue;
      const layout = tableLayout(schema, target, c.tableOptions, snowflakeTypes);
      try {
        await this.upload(client, layout, schema, changes, keyMoves);
      } catch (e) {
        throw withTables([layout], e);
      }
      if (watermarks) {
        const last = changes[changes.length - 1]!;
        const to = { commitLsn: last.commitLsn, seq: last.seq };
        await client.execute(
          mergeWatermark(this.dialect.metaTable, {
            key: { flowId: this.ctx.flowId, source: schema, target },
            to,
            commitTimeMicros: last.commitTimeMicros,
            existed: wm !== undefined,
          }),
        );
        watermarks.set(wmKey, to);
      }
    }
  }

  private async upload(
    client: SnowflakeClient,
    layout: TableLayout,
    schema: TableSchema,
    changes: EncodedBatch['changes'],
    keyMoves: DeleteDecisions | undefined,
  ): Promise<void> {
    const c = this.config;
    // Named by the batch's own positions, so a replay keeps the name whatever the completion finds.
    const name = fileName(changes, c.format);
    const complete = await completeRowImages(schema, changes, this.sourceRows, this.log);
    const records = fileRecords(layout, complete, c.withMetadata, BigInt(Date.now()) * 1000n, keyMoves);
    if (records.length === 0) return;
    const columns = [...layout.columns.map((col) => col.name), ...(c.withMetadata ? layout.meta.map((m) => m.name) : [])];
    const path = filePath(c.stagePath, schema);
    mkdirSync(this.dir, { recursive: true });
    const local = join(this.dir, name);
    writeFileSync(local, await encodeFile(c.format, columns, records, name));
    try {
      await client.put(local, c.stageRef, path);
      this.stats.files++;
    } finally {
      rmSync(local, { force: true });
    }
    if (!c.copyOnWrite) return;
    await this.ensureTarget(client, layout, columns);
    const format = c.fileFormat !== undefined ? `FORMAT_NAME = ${this.dialect.quoteString(c.fileFormat)}` : `TYPE = ${c.format.toUpperCase()}`;
    await client.execute(
      `COPY INTO ${qualified(this.dialect, layout.target)} FROM @${c.stageRef}/${path} FILES = (${this.dialect.quoteString(name)}) ` +
        `FILE_FORMAT = (${format}) MATCH_BY_COLUMN_NAME = CASE_SENSITIVE`,
    );
    this.stats.copies++;
  }

  /**
   * The delete records key moves of a DEFERRABLE key leave out or replace (see `eventsWithSource`:
   * a key the transaction moved a row into and out of again is read from the source); undefined
   * when no table of the batch has such a key.
   */
  private async keyMoveDecisions(batch: EncodedBatch): Promise<DeleteDecisions | undefined> {
    if (![...batch.schemas.values()].some((s) => s.keyDeferrable === true)) return undefined;
    return deleteDecisions(batch, await eventsWithSource(batch, false, this.keyMoves, this.sourceRows, this.log));
  }

  /** Creates the COPY target when missing: the row's columns in Snowflake types, then the metadata columns. */
  private async ensureTarget(client: SnowflakeClient, layout: TableLayout, columns: string[]): Promise<void> {
    const signature = layoutSignature(layout);
    if (this.ensured.has(signature)) return;
    const d = this.dialect;
    const types = new Map<string, string>([
      ...layout.columns.map((col) => [col.name, col.ddlType] as const),
      ...layout.meta.map((m) => [m.name, d.typeName(m.type)] as const),
    ]);
    await client.execute(d.createSchema(layout.target.schema));
    await client.execute(
      d.createTable(
        layout.target,
        columns.map((name) => ({ name, type: types.get(name)! })),
        [],
      ),
    );
    this.ensured.add(signature);
  }

  private async readWatermarks(client: SnowflakeClient): Promise<Map<string, Watermark> | undefined> {
    if (!this.config.metaTableEnabled) return undefined;
    if (!this.watermarks) {
      for (const sql of createMetaTableStatements(this.dialect)) await client.execute(sql);
      this.watermarks = parseWatermarkRows(await client.execute(selectWatermarks(this.dialect, this.ctx.flowId)));
    }
    return this.watermarks;
  }

  private requireClient(): SnowflakeClient {
    return requireOpen(this.client, this.kind, this.name);
  }
}
