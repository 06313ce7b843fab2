import type { Pool, PoolClient } from 'pg';
import { tableKey, type Column, type TableRef, type TableSchema } from '../core/change';
import { formatLsn, parseLsn, type Lsn } from '../core/lsn';
import type { ColumnChange, SchemaChange } from '../core/schemaChange';
import { deleteCaptured, loadCaptured, saveCaptured, type CapturedText } from './capturedText';

export type DdlStatus = 'pending' | 'approved' | 'rejected' | 'applied' | 'failed';
export const DDL_STATUSES: readonly DdlStatus[] = ['pending', 'approved', 'rejected', 'applied', 'failed'];

/** A row of `ductstream.ddl_events`. */
export interface DdlEvent {
  id: number;
  flowId: string;
  /** Where the change takes effect: the commit LSN of the first change with the new shape (or the DDL message's LSN). */
  lsn: Lsn;
  table: TableRef;
  /** Comma-separated change kinds: add_column, drop_column, rename_column, retype_column, key_change, new_table, drop_table, ddl. */
  kind: string;
  /** The DDL text when the event trigger captured it. */
  ddl: string | null;
  oldColumns: Column[] | null;
  newColumns: Column[] | null;
  /** The table's whole new shape (columns, key), for destinations to apply. */
  newSchema: TableSchema | null;
  changes: ColumnChange[];
  status: DdlStatus;
  reason: string;
  actor: string;
  applyRequested: boolean;
  createdAt: Date;
  updatedAt: Date;
  decidedAt: Date | null;
  appliedAt: Date | null;
}

export interface NewDdlEvent {
  flowId: string;
  lsn: Lsn;
  table: TableRef;
  kind: string;
  ddl: string | null;
  before: TableSchema | null;
  after: TableSchema | null;
  changes: ColumnChange[];
  status: DdlStatus;
  actor: string;
}

interface EventRow {
  id: string;
  flow_id: string;
  lsn: string;
  table_schema: string;
  table_name: string;
  kind: string;
  ddl: string | null;
  old_columns: Column[] | null;
  new_columns: Column[] | null;
  new_schema: TableSchema | null;
  changes: ColumnChange[];
  status: DdlStatus;
  reason: string;
  actor: string;
  apply_requested: boolean;
  created_at: Date;
  updated_at: Date;
  decided_at: Date | null;
  applied_at: Date | null;
}

const EVENT_COLUMNS = `id::text AS id, flow_id, lsn::text AS lsn, table_schema, table_name, kind, ddl, old_columns, new_columns, new_schema, changes,
  status, reason, actor, apply_requested, created_at, updated_at, decided_at, applied_at`;

function toEvent(r: EventRow): DdlEvent {
  return {
    id: Number(r.id),
    flowId: r.flow_id,
    lsn: parseLsn(r.lsn),
    table: { schema: r.table_schema, name: r.table_name },
    kind: r.kind,
    ddl: r.ddl,
    oldColumns: r.old_columns,
    newColumns: r.new_columns,
    newSchema: r.new_schema,
    changes: r.changes,
    status: r.status,
    reason: r.reason,
    actor: r.actor,
    applyRequested: r.apply_requested,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    decidedAt: r.decided_at,
    appliedAt: r.applied_at,
  };
}

/** A table's last announced schema (null: the table is known, its shape not seen yet). */
export interface Baseline {
  table: TableRef;
  schema: TableSchema | null;
  /** Stream position (commit LSN, seq) of the first change that had this shape. */
  position: StreamPosition;
}

export interface StreamPosition {
  lsn: Lsn;
  seq: number;
}

/**
 * DDL events and per-table schema baselines in the state database (`ductstream` schema).
 *
 * Contract: `announce` records a change and moves the table's baseline in one transaction, so a
 * change is announced exactly once however often the stream is replayed. Status moves are
 * conditional (`from` → `to`) and return the updated event, or null when the event was not in a
 * `from` status: concurrent approvers cannot both win.
 */
export class DdlStore {
  constructor(private readonly pool: Pool) {}

  async baselines(flowId: string): Promise<Map<string, Baseline>> {
    const r = await this.pool.query<{ table_schema: string; table_name: string; schema: TableSchema | null; lsn: string; seq: number }>(
      'SELECT table_schema, table_name, schema, lsn::text AS lsn, seq FROM ductstream.ddl_baselines WHERE flow_id = $1',
      [flowId],
    );
    return new Map(
      r.rows.map((b) => {
        const table = { schema: b.table_schema, name: b.table_name };
        return [tableKey(table), { table, schema: b.schema, position: { lsn: parseLsn(b.lsn), seq: b.seq } }];
      }),
    );
  }

  /** Records tables as known (shape not seen yet), leaving existing baselines alone. */
  async noteTables(flowId: string, tables: TableRef[]): Promise<void> {
    if (tables.length === 0) return;
    await this.pool.query(
      `INSERT INTO ductstream.ddl_baselines (flow_id, table_schema, table_name)
       SELECT $1, s, n FROM unnest($2::text[], $3::text[]) AS t(s, n) ON CONFLICT DO NOTHING`,
      [flowId, tables.map((t) => t.schema), tables.map((t) => t.name)],
    );
  }

  /** Sets a baseline without an event (a table's first shape). */
  async setBaseline(flowId: string, schema: TableSchema, at: StreamPosition): Promise<void> {
    await this.withClient((c) => upsertBaseline(c, flowId, schema, schema, at));
  }

  /** Keeps DDL text the event trigger captured until the table's next announced change (idempotent). */
  async saveCaptured(flowId: string, text: CapturedText, tag: string): Promise<void> {
    await saveCaptured(this.pool, flowId, text, tag);
  }

  /** The flow's captured DDL texts not yet in an event, by table key, in stream order. */
  async captured(flowId: string): Promise<Map<string, CapturedText[]>> {
    return loadCaptured(this.pool, flowId);
  }

  /** Forgets captured texts of a table (they changed nothing the stream shows, or are older than its baseline). */
  async forgetCaptured(flowId: string, table: TableRef, messageLsns: readonly Lsn[]): Promise<void> {
    await deleteCaptured(this.pool, flowId, table, messageLsns);
  }

  /**
   * Records `events` and sets (or, for a dropped table, removes) the table's baseline, and removes
   * the captured DDL texts the events carry (`consumed`, by message LSN), atomically.
   */
  async announce(
    events: NewDdlEvent[],
    baseline: { flowId: string; table: TableRef; schema: TableSchema | null; at: StreamPosition },
    consumed: readonly Lsn[] = [],
  ): Promise<DdlEvent[]> {
    return this.withClient(async (c) => {
      await c.query('BEGIN');
      try {
        await deleteCaptured(c, baseline.flowId, baseline.table, consumed);
        const out: DdlEvent[] = [];
        for (const e of events) {
          const r = await c.query<EventRow>(
            `INSERT INTO ductstream.ddl_events (flow_id, lsn, table_schema, table_name, kind, ddl, old_columns, new_columns, new_schema, changes, status, actor, decided_at)
             VALUES ($1, $2::pg_lsn, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $12::jsonb, $9::jsonb, $10, $11, CASE WHEN $10 = 'pending' THEN NULL ELSE now() END)
             RETURNING ${EVENT_COLUMNS}`,
            [
              e.flowId,
              formatLsn(e.lsn),
              e.table.schema,
              e.table.name,
              e.kind,
              e.ddl,
              e.before ? JSON.stringify(e.before.columns) : null,
              e.after ? JSON.stringify(e.after.columns) : null,
              JSON.stringify(e.changes),
              e.status,
              e.actor,
              e.after ? JSON.stringify(e.after) : null,
            ],
          );
          out.push(toEvent(r.rows[0]!));
        }
        if (baseline.schema) await upsertBaseline(c, baseline.flowId, baseline.table, baseline.schema, baseline.at);
        else
          await c.query('DELETE FROM ductstream.ddl_baselines WHERE flow_id = $1 AND table_schema = $2 AND table_name = $3', [
            baseline.flowId,
            baseline.table.schema,
            baseline.table.name,
          ]);
        await c.query('COMMIT');
        return out;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    });
  }

  async get(id: number): Promise<DdlEvent | null> {
    const r = await this.pool.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM ductstream.ddl_events WHERE id = $1`, [id]);
    return r.rows[0] ? toEvent(r.rows[0]) : null;
  }

  async list(filter: { flowId?: string; status?: DdlStatus; limit?: number }): Promise<DdlEvent[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.flowId) where.push(`flow_id = $${args.push(filter.flowId)}`);
    if (filter.status) where.push(`status = $${args.push(filter.status)}`);
    const r = await this.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM ductstream.ddl_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ${filter.limit ?? 1000}`,
      args,
    );
    return r.rows.map(toEvent);
  }

  /** Events of the flow that are not applied yet (they hold their table), oldest first. */
  async unapplied(flowId: string): Promise<DdlEvent[]> {
    const r = await this.pool.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM ductstream.ddl_events WHERE flow_id = $1 AND status <> 'applied' ORDER BY id`, [
      flowId,
    ]);
    return r.rows.map(toEvent);
  }

  /** Events not applied yet of every flow (or of `flowIds`), oldest first: what the operations view shows. */
  async open(flowIds?: readonly string[]): Promise<DdlEvent[]> {
    const r = flowIds
      ? await this.pool.query<EventRow>(
          `SELECT ${EVENT_COLUMNS} FROM ductstream.ddl_events WHERE status <> 'applied' AND flow_id = ANY($1::text[]) ORDER BY id`,
          [flowIds],
        )
      : await this.pool.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM ductstream.ddl_events WHERE status <> 'applied' ORDER BY id`);
    return r.rows.map(toEvent);
  }

  /** Moves the event from one of `from` to `to`; null when it was in none of them. */
  async transition(id: number, from: readonly DdlStatus[], to: DdlStatus, actor: string, reason = ''): Promise<DdlEvent | null> {
    const r = await this.pool.query<EventRow>(
      `UPDATE ductstream.ddl_events SET status = $3, actor = $4, reason = $5, updated_at = now(),
              decided_at = CASE WHEN $3 IN ('approved','rejected') THEN now() ELSE decided_at END,
              applied_at = CASE WHEN $3 = 'applied' THEN now() ELSE applied_at END,
              apply_requested = CASE WHEN $3 IN ('applied','failed') THEN false ELSE apply_requested END
        WHERE id = $1 AND status = ANY($2::text[]) RETURNING ${EVENT_COLUMNS}`,
      [id, from, to, actor, reason],
    );
    return r.rows[0] ? toEvent(r.rows[0]) : null;
  }

  /** Asks for the event to be applied (it must be approved); null otherwise. */
  async requestApply(id: number, actor: string): Promise<DdlEvent | null> {
    const r = await this.pool.query<EventRow>(
      `UPDATE ductstream.ddl_events SET apply_requested = true, actor = $2, updated_at = now() WHERE id = $1 AND status IN ('approved','failed') RETURNING ${EVENT_COLUMNS}`,
      [id, actor],
    );
    return r.rows[0] ? toEvent(r.rows[0]) : null;
  }

  /** Removes the flow's events and baselines (flow teardown). */
  async deleteFlow(flowId: string): Promise<void> {
    await this.pool.query('DELETE FROM ductstream.ddl_baselines WHERE flow_id = $1', [flowId]);
    await this.pool.query('DELETE FROM ductstream.ddl_events WHERE flow_id = $1', [flowId]);
    await this.pool.query('DELETE FROM ductstream.ddl_captured WHERE flow_id = $1', [flowId]);
  }

  private async withClient<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      return await fn(c);
    } finally {
      c.release();
    }
  }
}

async function upsertBaseline(c: PoolClient, flowId: string, table: TableRef, schema: TableSchema, at: StreamPosition): Promise<void> {
  await c.query(
    `INSERT INTO ductstream.ddl_baselines (flow_id, table_schema, table_name, schema, lsn, seq, updated_at) VALUES ($1, $2, $3, $4::jsonb, $5::pg_lsn, $6, now())
     ON CONFLICT (flow_id, table_schema, table_name) DO UPDATE SET schema = EXCLUDED.schema, lsn = EXCLUDED.lsn, seq = EXCLUDED.seq, updated_at = now()`,
    [flowId, table.schema, table.name, JSON.stringify(schema), formatLsn(at.lsn), at.seq],
  );
}

/** The change an event describes, as destinations apply it. */
export function schemaChangeOf(e: DdlEvent): SchemaChange {
  const before: TableSchema | null = e.oldColumns ? { ...e.table, relationId: 0, columns: e.oldColumns, primaryKey: [], replicaIdentity: 'default' } : null;
  return { table: e.table, before, after: e.newSchema, changes: e.changes };
}
