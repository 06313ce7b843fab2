import { DuctError } from '../../../core/errors';
import { parseLsn, type Lsn } from '../../../core/lsn';
import type { CatalogQuery } from '../catalogQuery';

export interface SlotInfo {
  exists: boolean;
  plugin: string | null;
  /** The slot's database name. */
  database: string | null;
  active: boolean;
  activePid: number | null;
  confirmedFlushLsn: Lsn | null;
  restartLsn: Lsn | null;
  /** The database of the connection that asked. */
  currentDatabase: string;
}

interface SlotRow {
  plugin: string | null;
  database: string | null;
  active: boolean | null;
  active_pid: number | null;
  confirmed_flush_lsn: string | null;
  restart_lsn: string | null;
  current_database: string;
}

/** Reads a slot's state from pg_replication_slots. */
export async function lookupSlot(query: CatalogQuery, slot: string): Promise<SlotInfo> {
  const rows = await query<SlotRow>(
    `SELECT s.plugin::text AS plugin, s.database::text AS database, s.active, s.active_pid,
            s.confirmed_flush_lsn::text AS confirmed_flush_lsn, s.restart_lsn::text AS restart_lsn,
            current_database()::text AS current_database
       FROM (SELECT 1) AS one
       LEFT JOIN pg_catalog.pg_replication_slots s ON s.slot_name = $1`,
    [slot],
  );
  const r = rows[0]!;
  return {
    exists: r.plugin !== null,
    plugin: r.plugin,
    database: r.database,
    active: r.active === true,
    activePid: r.active_pid,
    confirmedFlushLsn: r.confirmed_flush_lsn === null ? null : parseLsn(r.confirmed_flush_lsn),
    restartLsn: r.restart_lsn === null ? null : parseLsn(r.restart_lsn),
    currentDatabase: r.current_database,
  };
}

/** Checks that `slot` is a pgoutput slot of this database that can be streamed now. */
export function checkSlotUsable(info: SlotInfo, slot: string): void {
  if (!info.exists) {
    throw new DuctError('failed_precondition', `replication slot ${slot} does not exist`, {
      retry: 'never',
      hint: 'set create_slot=true (the default) so preparation creates it, or create it with pg_create_logical_replication_slot',
    });
  }
  if (info.plugin !== 'pgoutput') {
    throw new DuctError('failed_precondition', `replication slot ${slot} uses the output plugin ${info.plugin ?? '(physical slot)'}, not pgoutput`, {
      retry: 'never',
      hint: 'use another slot name, or drop the slot so DuctStream can create a pgoutput slot',
    });
  }
  if (info.database !== info.currentDatabase) {
    throw new DuctError('failed_precondition', `replication slot ${slot} belongs to database ${info.database}, not ${info.currentDatabase}`, {
      retry: 'never',
      hint: "use a slot name that is free in this cluster, or point the DSN at the slot's database",
    });
  }
}

/**
 * Reads the slot and checks it can be streamed (exists, pgoutput, this database, not in use). A slot
 * still held by a consumer that is disconnecting (e.g. our own previous session) is waited for up
 * to `waitMs`.
 */
export async function readSlot(query: CatalogQuery, slot: string, waitMs = 3000): Promise<SlotInfo> {
  const deadline = Date.now() + waitMs;
  let info = await lookupSlot(query, slot);
  checkSlotUsable(info, slot);
  while (info.active && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    info = await lookupSlot(query, slot);
    checkSlotUsable(info, slot);
  }
  if (info.active) {
    throw new DuctError('unavailable', `another process is streaming from slot ${slot} (PID ${info.activePid ?? 'unknown'})`, {
      retry: 'transient',
      hint: `stop the other consumer of replication slot ${slot}, or wait for it to disconnect`,
    });
  }
  return info;
}
