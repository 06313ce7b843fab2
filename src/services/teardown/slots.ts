import type { Flow } from '../../core/flow';
import { parsePostgresSourceConfig } from '../../source/postgres/config';
import { connectClient, endQuietly } from '../../source/postgres/connect';

/** A replication slot of a source server, with the flow that uses it (or none: an orphan). */
export interface SlotView {
  server: string;
  slot: string;
  database: string;
  plugin: string;
  /** Flows whose source uses this slot on this server and database (empty: orphan). */
  flows: string[];
  active: boolean;
  active_pid: number | null;
  confirmed_flush_lsn: string;
  restart_lsn: string;
  /** Bytes of WAL the slot keeps the server from recycling (current WAL position - restart_lsn). */
  retained_wal_bytes: number;
  wal_status: string;
}

interface SlotRow {
  slot_name: string;
  database: string | null;
  plugin: string | null;
  active: boolean;
  active_pid: number | null;
  confirmed: string | null;
  restart: string | null;
  retained: string | null;
  wal_status: string | null;
}

function serverOf(dsn: string): { key: string; database: string } {
  try {
    const u = new URL(dsn);
    return { key: `${u.hostname || 'localhost'}:${u.port || '5432'}`, database: decodeURIComponent(u.pathname.replace(/^\//, '')) };
  } catch {
    const host = /host=(\S+)/.exec(dsn)?.[1] ?? 'localhost';
    const port = /port=(\d+)/.exec(dsn)?.[1] ?? '5432';
    return { key: `${host}:${port}`, database: /dbname=(\S+)/.exec(dsn)?.[1] ?? '' };
  }
}

/**
 * Every replication slot on every source server the flows use (plus `extraDsns`), each with its
 * flows, retained WAL and activity, so an orphan (no flow) holding WAL is obvious. A server that
 * cannot be reached is reported in `unreachable`, not thrown.
 */
export async function listSlots(flows: Flow[], extraDsns: string[] = []): Promise<{ slots: SlotView[]; unreachable: string[] }> {
  const servers = new Map<string, { dsn: string; users: Array<{ flow: string; slot: string; database: string }> }>();
  const add = (dsn: string, user?: { flow: string; slot: string }) => {
    const s = serverOf(dsn);
    const entry = servers.get(s.key) ?? { dsn, users: [] };
    if (user) entry.users.push({ ...user, database: s.database });
    servers.set(s.key, entry);
  };
  for (const f of flows) {
    try {
      const c = parsePostgresSourceConfig(f.source.options, 'source.options');
      add(c.dsn, { flow: f.id, slot: c.slot });
    } catch {
      // a flow whose options no longer parse has no source to look at
    }
  }
  for (const d of extraDsns) add(d);
  const slots: SlotView[] = [];
  const unreachable: string[] = [];
  for (const [key, s] of servers) {
    let client;
    try {
      client = await connectClient(s.dsn, 'source.options.dsn', { applicationName: 'ductstream-admin' });
      const r = await client.query<SlotRow>(
        `SELECT slot_name::text, database::text, plugin::text, active, active_pid, confirmed_flush_lsn::text AS confirmed, restart_lsn::text AS restart,
                pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text AS retained, wal_status
           FROM pg_replication_slots ORDER BY slot_name`,
      );
      for (const row of r.rows) {
        slots.push({
          server: key,
          slot: row.slot_name,
          database: row.database ?? '',
          plugin: row.plugin ?? '',
          flows: s.users.filter((u) => u.slot === row.slot_name && (u.database === '' || u.database === row.database)).map((u) => u.flow),
          active: row.active,
          active_pid: row.active_pid,
          confirmed_flush_lsn: row.confirmed ?? '',
          restart_lsn: row.restart ?? '',
          retained_wal_bytes: Number(row.retained ?? 0),
          wal_status: row.wal_status ?? '',
        });
      }
    } catch {
      unreachable.push(key);
    } finally {
      await endQuietly(client);
    }
  }
  return { slots, unreachable };
}
