import { describeError } from '../core/errors';
import { connectClient, endQuietly } from '../source/postgres/connect';
import type { SlotStatus } from './model';

interface SlotRow {
  name: string;
  exists: boolean;
  active: boolean | null;
  confirmed_flush_lsn: string | null;
  restart_lsn: string | null;
  wal_status: string | null;
  safe_wal_size: string | null;
  current_wal_lsn: string;
  lag_bytes: string | null;
  retained_bytes: string | null;
}

/** Runs one query on the source server `dsn` and returns its rows; throws when the server cannot be asked. */
export type SourceQuery = (dsn: string, sql: string, params: unknown[]) => Promise<Record<string, unknown>[]>;

/** {@link SourceQuery} on a short connection of its own (one-shot readers: the admin CLI). */
export const shortConnectionQuery =
  (connectTimeoutMs = 5000): SourceQuery =>
  async (dsn, sql, params) => {
    let client;
    try {
      client = await connectClient(dsn, 'source.options.dsn', { connectTimeoutMs, applicationName: 'ductstream:status' });
      return (await client.query(sql, params)).rows as Record<string, unknown>[];
    } finally {
      await endQuietly(client);
    }
  };

export const SLOTS_SQL = `SELECT want.name, s.slot_name IS NOT NULL AS exists, s.active, s.confirmed_flush_lsn::text AS confirmed_flush_lsn, s.restart_lsn::text AS restart_lsn,
        s.wal_status, s.safe_wal_size::text AS safe_wal_size, pg_current_wal_lsn()::text AS current_wal_lsn,
        pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::text AS lag_bytes,
        pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::text AS retained_bytes
   FROM unnest($1::text[]) AS want(name)
   LEFT JOIN pg_catalog.pg_replication_slots s ON s.slot_name = want.name`;

/**
 * Reads the replication slots `slots` of one source server in one query through `query`:
 * positions, lag against pg_current_wal_lsn(), retained WAL, wal_status and safe_wal_size.
 * Never throws: an unreachable source gives every slot an `error`.
 */
export async function probeSlots(dsn: string, slots: readonly string[], query: SourceQuery = shortConnectionQuery()): Promise<Map<string, SlotStatus>> {
  const out = new Map<string, SlotStatus>();
  const sampledAt = new Date();
  const empty = (slot: string, error?: string): SlotStatus => ({
    slot,
    exists: false,
    active: false,
    confirmedFlushLsn: null,
    restartLsn: null,
    currentWalLsn: null,
    lagBytes: 0,
    retainedWalBytes: 0,
    walStatus: '',
    safeWalSize: null,
    error,
    sampledAt,
  });
  try {
    const rows = (await query(dsn, SLOTS_SQL, [[...slots]])) as unknown as SlotRow[];
    for (const row of rows) {
      out.set(row.name, {
        slot: row.name,
        exists: row.exists,
        active: row.active === true,
        confirmedFlushLsn: row.confirmed_flush_lsn,
        restartLsn: row.restart_lsn,
        currentWalLsn: row.current_wal_lsn,
        lagBytes: Math.max(0, Number(row.lag_bytes ?? 0)),
        retainedWalBytes: Math.max(0, Number(row.retained_bytes ?? 0)),
        walStatus: row.wal_status ?? '',
        safeWalSize: row.safe_wal_size === null ? null : Number(row.safe_wal_size),
        sampledAt,
      });
    }
  } catch (e) {
    const error = describeError(e);
    for (const s of slots) out.set(s, empty(s, error));
  }
  for (const s of slots) if (!out.has(s)) out.set(s, empty(s));
  return out;
}
