import type { Pool } from 'pg';
import { DuctError } from '../core/errors';
import { formatLsn, parseLsn } from '../core/lsn';
import type { TableOpCount } from './model';
import type { LiveFlowCounters } from './liveCounters';

/** The numbers of a flow that the process running it publishes (see {@link StatsDelta} for `retries`). */
interface FlowStatsFields {
  flowId: string;
  receivedLsn: string | null;
  lastAppliedCommitAt: Date | null;
  caughtUpAt: Date | null;
  retries: number;
  lastError: string;
  lastErrorHint: string;
  lastErrorAt: Date | null;
  heartbeatLsn: string | null;
  heartbeatAt: Date | null;
}

/** A flow's live numbers as last published by the process that runs it. */
export interface PersistedFlowStats extends FlowStatsFields {
  executor: string;
  updatedAt: Date;
  tables: TableOpCount[];
}

/** One publish of a flow's counters: deltas for rows and retries, latest values for the rest. */
export interface StatsDelta extends FlowStatsFields {
  /** [table, op, rows added, rows/s now] */
  tables: Array<[string, TableOpCount['op'], number, number]>;
}

/**
 * Where flows' live numbers are kept between the process that runs a flow and the ones that show
 * it. Contract: `publish` adds row and retry deltas exactly once per successful call (a failed call
 * changes nothing, so the caller may resend the same deltas); other fields keep their newest value.
 * Rates older than {@link RATE_STALE_MS} read as 0 (the publishing process stopped).
 */
export interface FlowStatsStore {
  publish(deltas: StatsDelta[], executor: string): Promise<void>;
  /** Every flow's stats, or only `flowId`'s. */
  read(flowId?: string): Promise<Map<string, PersistedFlowStats>>;
}

export const RATE_STALE_MS = 10_000;

/** The publishable delta of live counters (does not reset them). */
export function deltaOf(c: LiveFlowCounters): StatsDelta {
  const ms = (v: number | null) => (v === null ? null : new Date(v));
  const keys = new Set([...c.unflushed.keys(), ...c.rates.keys()]);
  const tables: StatsDelta['tables'] = [];
  for (const k of keys) {
    const [table, op] = k.split('\t') as [string, TableOpCount['op']];
    tables.push([table, op, c.unflushed.get(k) ?? 0, c.rates.get(k) ?? 0]);
  }
  return {
    flowId: c.flowId,
    receivedLsn: c.receivedLsn > 0n ? formatLsn(c.receivedLsn) : null,
    lastAppliedCommitAt: ms(c.lastAppliedCommitMs),
    caughtUpAt: ms(c.caughtUpAtMs),
    retries: c.unflushedRetries,
    lastError: c.lastError,
    lastErrorHint: c.lastErrorHint,
    lastErrorAt: ms(c.lastErrorAtMs),
    heartbeatLsn: c.heartbeatLsn === null ? null : formatLsn(c.heartbeatLsn),
    heartbeatAt: ms(c.heartbeatAtMs),
    tables,
  };
}

interface FlowRow {
  flow_id: string;
  received_lsn: string | null;
  last_applied_commit_at: Date | null;
  caught_up_at: Date | null;
  retries: string;
  last_error: string;
  last_error_hint: string;
  last_error_at: Date | null;
  heartbeat_lsn: string | null;
  heartbeat_at: Date | null;
  executor: string;
  updated_at: Date;
}

interface TableRow {
  flow_id: string;
  table_name: string;
  op: TableOpCount['op'];
  rows: string;
  rows_per_second: number;
  fresh: boolean;
}

/** {@link FlowStatsStore} in `ductstream.flow_stats` / `flow_table_stats`: one statement each per publish, for all flows. */
export class PostgresFlowStatsStore implements FlowStatsStore {
  constructor(private readonly pool: Pool) {}

  async publish(deltas: StatsDelta[], executor: string): Promise<void> {
    if (deltas.length === 0) return;
    const col = <T>(f: (d: StatsDelta) => T) => deltas.map(f);
    await this.query(
      `INSERT INTO ductstream.flow_stats AS s (flow_id, received_lsn, last_applied_commit_at, caught_up_at, retries, last_error, last_error_hint,
              last_error_at, heartbeat_lsn, heartbeat_at, executor, updated_at)
       SELECT u.*, $11, now() FROM unnest($1::text[], $2::pg_lsn[], $3::timestamptz[], $4::timestamptz[], $5::bigint[], $6::text[], $7::text[],
              $8::timestamptz[], $9::pg_lsn[], $10::timestamptz[]) AS u
       ON CONFLICT (flow_id) DO UPDATE SET
         received_lsn = GREATEST(s.received_lsn, EXCLUDED.received_lsn),
         last_applied_commit_at = GREATEST(s.last_applied_commit_at, EXCLUDED.last_applied_commit_at),
         caught_up_at = GREATEST(s.caught_up_at, EXCLUDED.caught_up_at),
         retries = s.retries + EXCLUDED.retries,
         last_error = CASE WHEN EXCLUDED.last_error_at > s.last_error_at OR s.last_error_at IS NULL THEN EXCLUDED.last_error ELSE s.last_error END,
         last_error_hint = CASE WHEN EXCLUDED.last_error_at > s.last_error_at OR s.last_error_at IS NULL THEN EXCLUDED.last_error_hint ELSE s.last_error_hint END,
         last_error_at = GREATEST(s.last_error_at, EXCLUDED.last_error_at),
         heartbeat_lsn = GREATEST(s.heartbeat_lsn, EXCLUDED.heartbeat_lsn),
         heartbeat_at = GREATEST(s.heartbeat_at, EXCLUDED.heartbeat_at),
         executor = EXCLUDED.executor, updated_at = now()`,
      [
        col((d) => d.flowId),
        col((d) => d.receivedLsn),
        col((d) => d.lastAppliedCommitAt),
        col((d) => d.caughtUpAt),
        col((d) => d.retries),
        col((d) => d.lastError),
        col((d) => d.lastErrorHint),
        col((d) => d.lastErrorAt),
        col((d) => d.heartbeatLsn),
        col((d) => d.heartbeatAt),
        executor,
      ],
    );
    const rows = deltas.flatMap((d) => d.tables.map((t) => [d.flowId, ...t] as const));
    if (rows.length === 0) return;
    await this.query(
      `INSERT INTO ductstream.flow_table_stats AS t (flow_id, table_name, op, rows, rows_per_second, updated_at)
       SELECT u.*, now() FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::float8[]) AS u
       ON CONFLICT (flow_id, table_name, op) DO UPDATE SET rows = t.rows + EXCLUDED.rows, rows_per_second = EXCLUDED.rows_per_second, updated_at = now()`,
      [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2]), rows.map((r) => r[3]), rows.map((r) => r[4])],
    );
  }

  async read(flowId?: string): Promise<Map<string, PersistedFlowStats>> {
    const where = flowId === undefined ? '' : 'WHERE flow_id = $1';
    const params = flowId === undefined ? [] : [flowId];
    const [flows, tables] = await Promise.all([
      this.query<FlowRow>(
        `SELECT flow_id, received_lsn::text AS received_lsn, last_applied_commit_at, caught_up_at, retries, last_error, last_error_hint, last_error_at,
                heartbeat_lsn::text AS heartbeat_lsn, heartbeat_at, executor, updated_at FROM ductstream.flow_stats ${where}`,
        params,
      ),
      this.query<TableRow>(
        `SELECT flow_id, table_name, op, rows, rows_per_second, updated_at > now() - make_interval(secs => ${RATE_STALE_MS / 1000}) AS fresh
           FROM ductstream.flow_table_stats ${where} ORDER BY flow_id, table_name, op`,
        params,
      ),
    ]);
    const out = new Map<string, PersistedFlowStats>();
    for (const r of flows) {
      out.set(r.flow_id, {
        flowId: r.flow_id,
        receivedLsn: r.received_lsn,
        lastAppliedCommitAt: r.last_applied_commit_at,
        caughtUpAt: r.caught_up_at,
        retries: Number(r.retries),
        lastError: r.last_error,
        lastErrorHint: r.last_error_hint,
        lastErrorAt: r.last_error_at,
        heartbeatLsn: r.heartbeat_lsn,
        heartbeatAt: r.heartbeat_at,
        executor: r.executor,
        updatedAt: r.updated_at,
        tables: [],
      });
    }
    for (const t of tables) {
      out.get(t.flow_id)?.tables.push({ table: t.table_name, op: t.op, rows: Number(t.rows), rowsPerSecond: t.fresh ? t.rows_per_second : 0 });
    }
    return out;
  }

  private async query<T>(sql: string, params: unknown[]): Promise<T[]> {
    try {
      return (await this.pool.query(sql, params)).rows as T[];
    } catch (e) {
      throw new DuctError('unavailable', `flow stats (DUCTSTREAM_POSTGRES_DSN): ${(e as Error).message}`, { retry: 'transient', cause: e });
    }
  }
}

/** {@link FlowStatsStore} in memory, for a standalone worker (no DUCTSTREAM_POSTGRES_DSN). */
export class MemoryFlowStatsStore implements FlowStatsStore {
  private readonly stats = new Map<string, PersistedFlowStats>();

  async publish(deltas: StatsDelta[], executor: string): Promise<void> {
    const later = (a: Date | null, b: Date | null) => (a === null ? b : b === null ? a : a > b ? a : b);
    const laterLsn = (a: string | null, b: string | null) => (a === null ? b : b === null ? a : parseLsn(a) > parseLsn(b) ? a : b);
    for (const d of deltas) {
      const s = this.stats.get(d.flowId) ?? {
        flowId: d.flowId,
        receivedLsn: null,
        lastAppliedCommitAt: null,
        caughtUpAt: null,
        retries: 0,
        lastError: '',
        lastErrorHint: '',
        lastErrorAt: null,
        heartbeatLsn: null,
        heartbeatAt: null,
        executor,
        updatedAt: new Date(),
        tables: [],
      };
      s.receivedLsn = laterLsn(s.receivedLsn, d.receivedLsn);
      s.lastAppliedCommitAt = later(s.lastAppliedCommitAt, d.lastAppliedCommitAt);
      s.caughtUpAt = later(s.caughtUpAt, d.caughtUpAt);
      s.retries += d.retries;
      if (d.lastErrorAt && (!s.lastErrorAt || d.lastErrorAt > s.lastErrorAt)) {
        s.lastError = d.lastError;
        s.lastErrorHint = d.lastErrorHint;
        s.lastErrorAt = d.lastErrorAt;
      }
      s.heartbeatLsn = laterLsn(s.heartbeatLsn, d.heartbeatLsn);
      s.heartbeatAt = later(s.heartbeatAt, d.heartbeatAt);
      s.updatedAt = new Date();
      for (const [table, op, rows, rate] of d.tables) {
        const t = s.tables.find((x) => x.table === table && x.op === op);
        if (t) {
          t.rows += rows;
          t.rowsPerSecond = rate;
        } else s.tables.push({ table, op, rows, rowsPerSecond: rate });
      }
      this.stats.set(d.flowId, s);
    }
  }

  async read(flowId?: string): Promise<Map<string, PersistedFlowStats>> {
    if (flowId === undefined) return new Map(this.stats);
    const s = this.stats.get(flowId);
    return new Map(s ? [[flowId, s]] : []);
  }
}
