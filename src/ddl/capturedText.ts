import type { Pool, PoolClient } from 'pg';
import { tableKey, type CapturedDdl, type TableRef } from '../core/change';
import { formatLsn, parseLsn, type Lsn } from '../core/lsn';
import type { StreamPosition } from './store';

/** DDL text the event trigger captured for a table, waiting for the table's next announced change. */
export interface CapturedText {
  table: TableRef;
  /** Rows from this position on have the DDL's shape. */
  position: StreamPosition;
  messageLsn: Lsn;
  ddl: string;
}

export function capturedTextOf(d: CapturedDdl): CapturedText {
  return { table: d.table, position: { lsn: d.lsn, seq: d.seq }, messageLsn: d.messageLsn, ddl: d.ddl };
}

/**
 * Captured DDL text in `ductstream.ddl_captured`, per flow and table, until the change it belongs to
 * is announced (then the text moves into the event, see {@link deleteCaptured}) or turns out to have
 * changed nothing the stream shows. Saving the same message twice (a replay) keeps one row.
 */
export async function saveCaptured(pool: Pool, flowId: string, t: CapturedText, tag: string): Promise<void> {
  await pool.query(
    `INSERT INTO ductstream.ddl_captured (flow_id, table_schema, table_name, message_lsn, lsn, seq, tag, ddl)
     VALUES ($1, $2, $3, $4::pg_lsn, $5::pg_lsn, $6, $7, $8) ON CONFLICT DO NOTHING`,
    [flowId, t.table.schema, t.table.name, formatLsn(t.messageLsn), formatLsn(t.position.lsn), t.position.seq, tag, t.ddl],
  );
}

/** The flow's captured texts by table key, each table's in stream order. */
export async function loadCaptured(pool: Pool, flowId: string): Promise<Map<string, CapturedText[]>> {
  const r = await pool.query<{ table_schema: string; table_name: string; message_lsn: string; lsn: string; seq: number; ddl: string }>(
    `SELECT table_schema, table_name, message_lsn::text AS message_lsn, lsn::text AS lsn, seq, ddl FROM ductstream.ddl_captured
      WHERE flow_id = $1 ORDER BY message_lsn`,
    [flowId],
  );
  const out = new Map<string, CapturedText[]>();
  for (const row of r.rows) {
    const table = { schema: row.table_schema, name: row.table_name };
    const list = out.get(tableKey(table)) ?? [];
    list.push({ table, position: { lsn: parseLsn(row.lsn), seq: row.seq }, messageLsn: parseLsn(row.message_lsn), ddl: row.ddl });
    out.set(tableKey(table), list);
  }
  return out;
}

/** Removes captured texts of a table (by message LSN); `c` is the caller's transaction or the pool. */
export async function deleteCaptured(c: Pool | PoolClient, flowId: string, table: TableRef, messageLsns: readonly Lsn[]): Promise<void> {
  if (messageLsns.length === 0) return;
  await c.query(`DELETE FROM ductstream.ddl_captured WHERE flow_id = $1 AND table_schema = $2 AND table_name = $3 AND message_lsn = ANY($4::pg_lsn[])`, [
    flowId,
    table.schema,
    table.name,
    messageLsns.map(formatLsn),
  ]);
}

function atOrBefore(a: StreamPosition, b: StreamPosition): boolean {
  return a.lsn < b.lsn || (a.lsn === b.lsn && a.seq <= b.seq);
}

/** The store calls {@link DdlTexts} needs (a `DdlStore`). */
export interface CapturedTextStore {
  saveCaptured(flowId: string, text: CapturedText, tag: string): Promise<void>;
  captured(flowId: string): Promise<Map<string, CapturedText[]>>;
  forgetCaptured(flowId: string, table: TableRef, messageLsns: readonly Lsn[]): Promise<void>;
}

/**
 * The captured DDL texts of one flow, in memory and in `ductstream.ddl_captured`.
 *
 * Contract: a text is kept (persisted before the batch that carried it is checkpointed) until the
 * table's rows at or after its position are tracked; then it goes into the change announced for
 * them ({@link upTo}, removed in the announce transaction) or, when they show no new shape (e.g.
 * `SET DEFAULT`), is forgotten ({@link forgetUpTo}). A text at or before the table's baseline (a
 * replay of an announced change) is ignored. So a restart between a DDL and its table's next row
 * loses no text, and no text lands on an unrelated later change.
 */
export class DdlTexts {
  private texts = new Map<string, CapturedText[]>();

  constructor(
    private readonly flowId: string,
    private readonly store: CapturedTextStore,
  ) {}

  async load(): Promise<void> {
    this.texts = await this.store.captured(this.flowId);
  }

  /** Keeps a captured ALTER/CREATE TABLE text unless the table's baseline already has its shape. */
  async note(d: CapturedDdl, baseline: StreamPosition | undefined): Promise<void> {
    const t = capturedTextOf(d);
    if (baseline && atOrBefore(t.position, baseline)) return;
    const key = tableKey(d.table);
    const list = this.texts.get(key) ?? [];
    if (list.some((x) => x.messageLsn === t.messageLsn)) return;
    await this.store.saveCaptured(this.flowId, t, d.tag);
    list.push(t);
    this.texts.set(key, list);
  }

  /** The texts of `table` at or before `at` (what a change announced at `at` carries), oldest first. */
  upTo(table: TableRef, at: StreamPosition): CapturedText[] {
    return (this.texts.get(tableKey(table)) ?? []).filter((t) => atOrBefore(t.position, at));
  }

  /** Drops the texts of `table` at or before `at` (all of them without `at`), here and in the store. */
  async forgetUpTo(table: TableRef, at?: StreamPosition): Promise<void> {
    const key = tableKey(table);
    const list = this.texts.get(key) ?? [];
    const gone = at ? list.filter((t) => atOrBefore(t.position, at)) : list;
    if (gone.length === 0) return;
    await this.store.forgetCaptured(
      this.flowId,
      table,
      gone.map((t) => t.messageLsn),
    );
    this.dropped(table, gone);
  }

  /** Removes texts from memory that the store already removed (in an announce transaction). */
  dropped(table: TableRef, gone: readonly CapturedText[]): void {
    const key = tableKey(table);
    const rest = (this.texts.get(key) ?? []).filter((t) => !gone.includes(t));
    if (rest.length > 0) this.texts.set(key, rest);
    else this.texts.delete(key);
  }
}

/** The DDL text an event carries: the captured statements, each once, in order. */
export function joinedText(texts: readonly CapturedText[]): string | null {
  if (texts.length === 0) return null;
  return [...new Set(texts.map((t) => t.ddl))].join('\n');
}
