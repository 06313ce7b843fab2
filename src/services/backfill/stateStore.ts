import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DuctError, describeError } from '../../core/errors';
import type { SnapshotConfig } from '../../source/postgres/config';
import { connectClient, endQuietly } from '../../source/postgres/connect';
import { quoteIdent } from '../../source/postgres/identifiers';

/** The persisted progress of one partition of a backfill (`snapshot_state_*` options). */
export interface PartitionState {
  flowId: string;
  backfillId: string;
  table: string;
  partition: string;
  status: 'running' | 'done';
  rowsDone: number;
  rowsEstimated: number | null;
  chunksDone: number;
  chunks: number;
  snapshotLsn: string;
}

/**
 * Where backfill progress is persisted besides DBOS (which alone drives resumption): `postgres`
 * (a table in the source database, `snapshot_state_schema.snapshot_state_table`), `file` (a JSON
 * document at `snapshot_state_path`, for single-process backfills) or `none`. `record` is an upsert
 * by (backfill, table, partition), so a replayed chunk step writes the same row again.
 */
export interface SnapshotStateStore {
  record(s: PartitionState): Promise<void>;
  close(): Promise<void>;
}

export function openSnapshotStateStore(cfg: SnapshotConfig, sourceDsn: string): SnapshotStateStore {
  if (cfg.stateBackend === 'none') return { record: async () => undefined, close: async () => undefined };
  if (cfg.stateBackend === 'file') return new FileStateStore(cfg.statePath!);
  return new PostgresStateStore(sourceDsn, cfg.stateSchema, cfg.stateTable);
}

class FileStateStore implements SnapshotStateStore {
  private tail: Promise<unknown> = Promise.resolve();
  constructor(private readonly path: string) {}

  record(s: PartitionState): Promise<void> {
    const run = this.tail.then(() => this.write(s));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private write(s: PartitionState): void {
    let doc: { partitions: PartitionState[] } = { partitions: [] };
    try {
      doc = JSON.parse(readFileSync(this.path, 'utf8')) as typeof doc;
    } catch {
      // missing or unreadable: start a new document
    }
    const others = (doc.partitions ?? []).filter((p) => !(p.backfillId === s.backfillId && p.table === s.table && p.partition === s.partition));
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      writeFileSync(`${this.path}.tmp`, JSON.stringify({ partitions: [...others, s] }, null, 1));
      renameSync(`${this.path}.tmp`, this.path);
    } catch (e) {
      throw new DuctError('failed_precondition', `cannot write snapshot_state_path ${this.path}: ${describeError(e)}`, {
        retry: 'never',
        field: 'source.options.snapshot_state_path',
        hint: 'set it to a writable file path',
      });
    }
  }

  async close(): Promise<void> {
    await this.tail;
  }
}

class PostgresStateStore implements SnapshotStateStore {
  private ready: Promise<void> | undefined;
  private readonly table: string;
  constructor(
    private readonly dsn: string,
    private readonly schema: string,
    table: string,
  ) {
    this.table = `${quoteIdent(schema)}.${quoteIdent(table)}`;
  }

  async record(s: PartitionState): Promise<void> {
    const client = await connectClient(this.dsn, 'source.options.dsn', { applicationName: 'ductstream-backfill-state' });
    try {
      this.ready ??= this.create(client);
      await this.ready;
      await client.query(
        `INSERT INTO ${this.table} (backfill_id, table_name, partition_name, flow_id, status, rows_done, rows_estimated, chunks_done, chunks, snapshot_lsn, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::pg_lsn, now())
         ON CONFLICT (backfill_id, table_name, partition_name) DO UPDATE SET status = EXCLUDED.status, rows_done = EXCLUDED.rows_done,
           rows_estimated = EXCLUDED.rows_estimated, chunks_done = EXCLUDED.chunks_done, chunks = EXCLUDED.chunks, updated_at = now()`,
        [s.backfillId, s.table, s.partition, s.flowId, s.status, s.rowsDone, s.rowsEstimated, s.chunksDone, s.chunks, s.snapshotLsn],
      );
    } catch (e) {
      this.ready = undefined;
      throw e instanceof DuctError
        ? e
        : new DuctError('source_failed', `recording backfill state failed: ${describeError(e)}`, { retry: 'transient', cause: e });
    } finally {
      await endQuietly(client);
    }
  }

  private async create(client: Awaited<ReturnType<typeof connectClient>>): Promise<void> {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(this.schema)}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${this.table} (
         backfill_id text NOT NULL, table_name text NOT NULL, partition_name text NOT NULL, flow_id text NOT NULL,
         status text NOT NULL, rows_done bigint NOT NULL, rows_estimated bigint, chunks_done int NOT NULL, chunks int NOT NULL,
         snapshot_lsn pg_lsn NOT NULL, updated_at timestamptz NOT NULL,
         PRIMARY KEY (backfill_id, table_name, partition_name))`,
    );
  }

  async close(): Promise<void> {
    await this.ready?.catch(() => undefined);
  }
}
