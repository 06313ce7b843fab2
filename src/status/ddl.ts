import { formatLsn } from '../core/lsn';
import type { DdlEvent, DdlStore } from '../ddl/store';
import type { FlowStatus, StatusExtension } from './model';

/** What to do about an event that holds its table, by status. */
function next(e: DdlEvent): string {
  switch (e.status) {
    case 'pending':
      return `approve it: ductstream-admin ddl approve -id ${e.id} (or ddl reject)`;
    case 'approved':
      return `apply it: ductstream-admin ddl apply -id ${e.id}`;
    case 'failed':
      return `its apply failed (${e.reason}); fix the destination, then ductstream-admin ddl apply -id ${e.id}, or ddl reject`;
    default:
      return `it was rejected (${e.reason}); the table stays stopped`;
  }
}

/**
 * Adds DDL governance to flow status: `pendingDdl` lists the events not applied yet; each one that
 * holds its table (every kind but a dropped table) raises the `ddl_held` alarm, naming the table,
 * where it stopped and what to do; and a running flow holding a table waiting for a decision or an
 * apply (not a rejected one) shows the state `pending_ddl` with that reason (a `retrying:` reason
 * keeps precedence). Reads `ductstream.ddl_events` once per sample.
 */
export class DdlStatusExtension implements StatusExtension {
  constructor(private readonly store: DdlStore) {}

  async extend(statuses: FlowStatus[]): Promise<void> {
    if (statuses.length === 0) return;
    const events = await this.store.open(statuses.map((s) => s.flowId));
    for (const s of statuses) {
      const mine = events.filter((e) => e.flowId === s.flowId);
      s.pendingDdl = mine.map((e) => ({ id: String(e.id), table: `${e.table.schema}.${e.table.name}`, ddl: e.ddl ?? e.kind, status: e.status }));
      const holding = mine.filter((e) => e.kind !== 'drop_table');
      for (const e of holding) {
        s.alarms.push({
          kind: 'ddl_held',
          message: `table ${e.table.schema}.${e.table.name} is held at ${formatLsn(e.lsn)} by DDL event ${e.id} (${e.kind}, ${e.status}): ${next(e)}`,
        });
      }
      const waiting = holding.filter((e) => e.status !== 'rejected');
      if (waiting.length > 0 && s.state === 'running' && !s.reason.startsWith('retrying:')) {
        const tables = [...new Set(waiting.map((e) => `${e.table.schema}.${e.table.name}`))];
        s.state = 'pending_ddl';
        s.reason = `${tables.join(', ')} held at a schema change (DDL event${waiting.length > 1 ? 's' : ''} ${waiting.map((e) => e.id).join(', ')}: ${waiting.map((e) => e.status).join(', ')})`;
      }
    }
  }
}
