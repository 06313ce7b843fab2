import type { TableRef } from '../../core/change';
import { tableKey } from '../../core/change';
import { DuctError, invalidArgument } from '../../core/errors';
import type { Flow } from '../../core/flow';
import type { Logger } from '../../core/log';
import { catalogQueryOf } from '../../source/postgres/catalogQuery';
import { parsePostgresSourceConfig } from '../../source/postgres/config';
import { connectClient, endQuietly } from '../../source/postgres/connect';
import { parseQualifiedTable } from '../../source/postgres/identifiers';
import { resolveSnapshotTables } from '../../source/postgres/snapshot/tables';
import type { BackfillRequest } from '../../workflows/backfill/types';

/** The source options a backfill request may override (the worker's flags, StartBackfill's `options`). */
export const BACKFILL_OPTION_KEYS = [
  'snapshot_workers',
  'parallel_tables',
  'partition_column',
  'partition_count',
  'snapshot_consistent',
  'snapshot_state_backend',
  'snapshot_state_schema',
  'snapshot_state_table',
  'snapshot_state_path',
] as const;

/** What a caller asks for, before validation. */
export interface BackfillInput {
  /** `schema.table` (or `table` for public); empty or absent: every table of the flow's publication. */
  tables?: string[];
  /** Overrides of the flow's source options, by option name (see {@link BACKFILL_OPTION_KEYS}). */
  options?: Record<string, string>;
  resolveStaging?: boolean;
  resync?: boolean;
}

/** How errors name what the caller typed: the tables field, and each overridden option. */
export interface BackfillFields {
  tables: string;
  option: (key: string) => string;
}

/**
 * Checks a backfill request against the flow, its options and the source catalog, and returns the
 * workflow input. Nothing is started or written. Bad input is `invalid_argument` naming the field
 * (the flag, the request field or the option): unknown table, table outside the publication,
 * missing partition column, partition_count < 1, snapshot_state_backend=file without a path.
 */
export async function validateBackfill(flow: Flow, input: BackfillInput, fields: BackfillFields, log: Logger): Promise<BackfillRequest> {
  const overrides = input.options ?? {};
  for (const k of Object.keys(overrides)) {
    if (!(BACKFILL_OPTION_KEYS as readonly string[]).includes(k)) {
      throw invalidArgument(fields.option(k), 'is not a backfill option', `use one of: ${BACKFILL_OPTION_KEYS.join(', ')}`);
    }
  }
  const merged = { ...flow.source.options, ...overrides };
  // An override replaces the flow's value, also of its alias.
  if (overrides.snapshot_workers !== undefined && overrides.parallel_tables === undefined) delete merged.parallel_tables;
  if (overrides.parallel_tables !== undefined && overrides.snapshot_workers === undefined) delete merged.snapshot_workers;
  let config;
  try {
    config = parsePostgresSourceConfig(merged, 'source.options');
  } catch (e) {
    throw renameField(e, overrides, fields);
  }
  const requested: TableRef[] | undefined =
    input.tables && input.tables.length > 0 ? input.tables.map((t) => parseQualifiedTable(t, fields.tables)) : undefined;
  const client = await connectClient(config.dsn, 'source.options.dsn', { applicationName: 'ductstream-backfill-check', connectTimeoutMs: 5000 });
  try {
    const tables = await resolveSnapshotTables(
      catalogQueryOf(client),
      config,
      requested,
      config.snapshot.partitionColumn,
      {
        tables: fields.tables,
        partitionColumn: overrides.partition_column !== undefined ? fields.option('partition_column') : 'source.options.partition_column',
      },
      log,
    );
    const lsn = await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
    const req: BackfillRequest = {
      flowId: flow.id,
      tables: tables.map((t) => tableKey(t.table)),
      workers: config.snapshot.workers,
      partitionCount: config.snapshot.partitionCount,
      consistent: config.snapshot.consistent,
      resolveStaging: input.resolveStaging ?? false,
      resync: input.resync ?? false,
      holdLsn: lsn.rows[0]!.lsn,
    };
    if (config.snapshot.partitionColumn !== undefined) req.partitionColumn = config.snapshot.partitionColumn;
    return req;
  } finally {
    await endQuietly(client);
  }
}

/** An option error about an overridden option, renamed to the field the caller used. */
function renameField(e: unknown, overrides: Record<string, string>, fields: BackfillFields): unknown {
  if (!(e instanceof DuctError) || !e.field?.startsWith('source.options.')) return e;
  const key = e.field.slice('source.options.'.length);
  const blamed =
    overrides[key] !== undefined ? key : key === 'snapshot_state_path' && overrides.snapshot_state_backend !== undefined ? 'snapshot_state_backend' : undefined;
  if (blamed === undefined) return e;
  const problem = e.message.startsWith(`${e.field}: `) ? e.message.slice(e.field.length + 2) : e.message;
  const shown = blamed === key ? problem : `${key} ${problem}`;
  return invalidArgument(fields.option(blamed), shown, e.hint);
}
