import { tableKey, type TableRef } from '../../core/change';
import { invalidArgument } from '../../core/errors';
import { parseIdentifier, parseQualifiedTable } from '../../source/postgres/identifiers';

export type PublicationSyncMode = 'add' | 'sync';

/** A validated `publication sync` request (serializable: it is a workflow argument). */
export interface PublicationSyncSpec {
  flowId: string;
  schemas: string[];
  tables: TableRef[];
  mode: PublicationSyncMode;
  snapshot: boolean;
  pause: boolean;
  resume: boolean;
}

export interface PublicationSyncRequest {
  flow_id?: string;
  schemas?: string;
  tables?: string;
  mode?: string;
  snapshot?: boolean;
  pause?: boolean;
  resume?: boolean;
}

const list = (v: string | undefined): string[] =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/**
 * Validates a publication sync request; errors name the field (`schemas`, `tables`, `mode`,
 * `snapshot`) and the fix. `snapshotAvailable` says whether this build can backfill added tables.
 */
export function parsePublicationSync(r: PublicationSyncRequest, snapshotAvailable: boolean): PublicationSyncSpec {
  const flowId = r.flow_id?.trim() ?? '';
  if (!flowId) throw invalidArgument('flow_id', 'is required', 'pass the flow whose publication to change');
  const schemas = list(r.schemas).map((s) => parseIdentifier(s, 'schemas'));
  const tables = list(r.tables).map((t) => parseQualifiedTable(t, 'tables'));
  if (schemas.length === 0 && tables.length === 0)
    throw invalidArgument('schemas', 'neither schemas nor tables is given', 'pass -schemas S1,S2 or -tables schema.t1,schema.t2');
  if (schemas.length > 0 && tables.length > 0) throw invalidArgument('tables', 'is given together with schemas', 'pass either -schemas or -tables, not both');
  const mode = (r.mode?.trim() || 'add').toLowerCase();
  if (mode !== 'add' && mode !== 'sync')
    throw invalidArgument('mode', `"${r.mode}" is not a sync mode`, 'use add (only add tables) or sync (also drop tables not listed)');
  if (r.snapshot && !snapshotAvailable) {
    throw invalidArgument(
      'snapshot',
      'is not available here',
      'run without -snapshot, then backfill the added tables with ductstream-worker -mode backfill -tables ...',
    );
  }
  const seen = new Set<string>();
  const unique = tables.filter((t) => !seen.has(tableKey(t)) && (seen.add(tableKey(t)), true));
  return { flowId, schemas: [...new Set(schemas)], tables: unique, mode, snapshot: r.snapshot === true, pause: r.pause === true, resume: r.resume === true };
}
