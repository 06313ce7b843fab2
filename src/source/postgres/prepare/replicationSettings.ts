import { DuctError } from '../../../core/errors';
import type { CatalogQuery } from '../catalogQuery';

interface SettingRow {
  name: string;
  setting: string;
}

export interface ReplicationSettings {
  walLevel: string;
  maxReplicationSlots: number;
  maxWalSenders: number;
  slotsInUse: number;
}

export async function readReplicationSettings(query: CatalogQuery): Promise<ReplicationSettings> {
  const rows = await query<SettingRow>(
    `SELECT name::text AS name, setting::text AS setting FROM pg_catalog.pg_settings
      WHERE name IN ('wal_level', 'max_replication_slots', 'max_wal_senders')`,
  );
  const get = (n: string): string => rows.find((r) => r.name === n)?.setting ?? '';
  const used = await query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_catalog.pg_replication_slots`);
  return {
    walLevel: get('wal_level'),
    maxReplicationSlots: Number(get('max_replication_slots')),
    maxWalSenders: Number(get('max_wal_senders')),
    slotsInUse: used[0]?.n ?? 0,
  };
}

function precondition(message: string, hint: string): DuctError {
  return new DuctError('failed_precondition', message, { retry: 'never', hint });
}

/**
 * Checks the server settings logical replication needs, naming the setting that is wrong and how
 * to fix it: wal_level=logical, max_replication_slots > 0 (and a free slot when `needFreeSlot`),
 * max_wal_senders > 0, and a role allowed to replicate.
 */
export async function validateReplicationSettings(query: CatalogQuery, opts: { needFreeSlot: boolean }): Promise<ReplicationSettings> {
  const s = await readReplicationSettings(query);
  if (s.walLevel !== 'logical') {
    throw precondition(
      `wal_level is "${s.walLevel}" but logical replication needs wal_level=logical`,
      'run ALTER SYSTEM SET wal_level = logical (or set it in postgresql.conf) and restart PostgreSQL; on managed services enable logical replication in the instance settings',
    );
  }
  if (!(s.maxReplicationSlots > 0)) {
    throw precondition(
      `max_replication_slots is ${s.maxReplicationSlots} but logical replication needs at least one slot`,
      'run ALTER SYSTEM SET max_replication_slots = 10 and restart PostgreSQL',
    );
  }
  if (!(s.maxWalSenders > 0)) {
    throw precondition(
      `max_wal_senders is ${s.maxWalSenders} but streaming needs at least one WAL sender`,
      'run ALTER SYSTEM SET max_wal_senders = 10 and restart PostgreSQL',
    );
  }
  if (opts.needFreeSlot && s.slotsInUse >= s.maxReplicationSlots) {
    throw precondition(
      `all ${s.maxReplicationSlots} replication slots (max_replication_slots) are in use, so a new slot cannot be created`,
      'drop unused slots with pg_drop_replication_slot, or raise max_replication_slots and restart PostgreSQL',
    );
  }
  const roles = await query<{ rolsuper: boolean; rolreplication: boolean; rolname: string }>(
    `SELECT rolname::text AS rolname, rolsuper, rolreplication FROM pg_catalog.pg_roles WHERE rolname = current_user`,
  );
  const role = roles[0];
  if (role && !role.rolsuper && !role.rolreplication) {
    throw precondition(
      `the role ${role.rolname} may not start replication (it has neither REPLICATION nor SUPERUSER)`,
      `run ALTER ROLE "${role.rolname}" WITH REPLICATION as a superuser`,
    );
  }
  return s;
}
