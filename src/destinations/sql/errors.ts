import { tableKey } from '../../core/change';
import { DuctError, isDuctError } from '../../core/errors';
import type { TableLayout } from './layout';

/**
 * Prefixes an error with the table(s) it happened on (`public.a → db.a`), keeping its class; field
 * errors stay as they are. A non-DuctError (a driver bug) becomes a transient `destination_failed`.
 */
export function withTables(layouts: TableLayout[], e: unknown): unknown {
  if (layouts.length === 0) return e;
  const where = layouts.map((l) => `${tableKey(l.source)} → ${l.target.schema}.${l.target.name}`).join(', ');
  if (isDuctError(e)) {
    if (e.field !== undefined || e.message.startsWith(where)) return e;
    return new DuctError(e.code, `${where}: ${e.message}`, { retry: e.retry, hint: e.hint, field: e.field, cause: e });
  }
  return new DuctError('destination_failed', `${where}: ${e instanceof Error ? e.message : String(e)}`, { retry: 'transient', cause: e });
}
