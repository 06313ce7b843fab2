import type { TableRef } from '../../core/change';
import { invalidArgument } from '../../core/errors';
import { OptionReader, type OptionMap } from '../../config/options';
import { validateDsn } from './dsn';
import { parseIdentifier, parseQualifiedTable } from './identifiers';

export type SyncPublicationMode = 'add' | 'sync';
export type SnapshotStateBackend = 'postgres' | 'file' | 'none';

/** Backfill (snapshot) options of the source; the backfill workflow reads them. */
export interface SnapshotConfig {
  /** Parallel table/partition workers (`snapshot_workers`, alias `parallel_tables`). */
  workers: number;
  /** Column used to hash-partition a table; undefined copies each table as one partition. */
  partitionColumn?: string;
  partitionCount: number;
  /** Use an exported snapshot so every worker sees the same point in time. */
  consistent: boolean;
  stateBackend: SnapshotStateBackend;
  stateSchema: string;
  stateTable: string;
  /** File for the `file` backend (required then). */
  statePath?: string;
}

/** The typed options of a `postgres` source (docs/usage.md, "Postgres source"). */
export interface PostgresSourceConfig {
  dsn: string;
  slot: string;
  publication: string;
  createSlot: boolean;
  ensurePublication: boolean;
  /** Tables for publication creation/sync (`schema.table`; a bare name means `public`). */
  publicationTables: TableRef[];
  /** Schemas whose tables go into the publication. */
  publicationSchemas: string[];
  validateReplication: boolean;
  batchSize: number;
  batchTimeoutMs: number;
  statusIntervalMs: number;
  /** Emit empty batches (the runner's business: the source always yields them). */
  emitEmpty: boolean;
  resolveTypes: boolean;
  syncPublication: boolean;
  syncPublicationMode: SyncPublicationMode;
  ensureState: boolean;
  stateSchema: string;
  stateTable: string;
  /** Stable id for source-state records; the flow's id when unset. */
  flowId?: string;
  snapshot: SnapshotConfig;
  monitoring: MonitoringConfig;
}

/** Heartbeats and alarms of the flow (src/status reads the alarms). 0 disables each. */
export interface MonitoringConfig {
  /** `heartbeat_interval`: a pg_logical_emit_message this often lets an idle slot advance. */
  heartbeatIntervalMs: number;
  /** `lag_alarm_bytes`: alarm when the slot's unconfirmed WAL exceeds this. */
  lagAlarmBytes: number;
  /** `lag_alarm_seconds`: alarm when the flow is this far behind in time. */
  lagAlarmSeconds: number;
  /** `stall_alarm`: alarm when a running flow's checkpoint has not moved this long while WAL waits. */
  stallAlarmMs: number;
}

/** Every default of the source, in one place (as documented in docs/usage.md). */
export const POSTGRES_SOURCE_DEFAULTS = {
  createSlot: true,
  ensurePublication: true,
  validateReplication: true,
  batchSize: 100,
  batchTimeoutMs: 1000,
  statusIntervalMs: 10_000,
  emitEmpty: false,
  resolveTypes: true,
  syncPublication: false,
  syncPublicationMode: 'add' as SyncPublicationMode,
  ensureState: true,
  stateSchema: 'ductstream',
  stateTable: 'source_state',
  snapshotWorkers: 1,
  partitionCount: 1,
  snapshotConsistent: true,
  snapshotStateBackend: 'postgres' as SnapshotStateBackend,
  snapshotStateSchema: 'ductstream',
  snapshotStateTable: 'snapshot_state',
  heartbeatIntervalMs: 30_000,
  lagAlarmBytes: 1024 * 1024 * 1024,
  lagAlarmSeconds: 0,
  stallAlarmMs: 300_000,
} as const;

/** PostgreSQL's rule for replication slot names (ReplicationSlotValidateName). */
const SLOT_NAME = /^[a-z0-9_]{1,63}$/;

function parseIdentifierOption(r: OptionReader, key: string, fallback: string): string {
  const v = r.raw(key);
  if (v === undefined) return fallback;
  return parseIdentifier(v, r.field(key));
}

function parseSnapshot(r: OptionReader): SnapshotConfig {
  const d = POSTGRES_SOURCE_DEFAULTS;
  const hasWorkers = r.has('snapshot_workers');
  const hasAlias = r.has('parallel_tables');
  const workers = r.int('snapshot_workers', d.snapshotWorkers, { min: 1, max: 256 });
  const alias = r.int('parallel_tables', d.snapshotWorkers, { min: 1, max: 256 });
  if (hasWorkers && hasAlias && workers !== alias) {
    throw invalidArgument(
      r.field('parallel_tables'),
      `is ${alias} but snapshot_workers is ${workers}`,
      'parallel_tables is an alias of snapshot_workers: set only one of them',
    );
  }
  const partitionColumnRaw = r.optionalString('partition_column');
  const stateBackend = r.oneOf('snapshot_state_backend', ['postgres', 'file', 'none'] as const, d.snapshotStateBackend);
  const statePath = r.optionalString('snapshot_state_path');
  if (stateBackend === 'file' && statePath === undefined) {
    throw invalidArgument(
      r.field('snapshot_state_path'),
      'is required when snapshot_state_backend=file',
      'set it to a writable file path, e.g. ./data/snapshot_state.json',
    );
  }
  const snapshot: SnapshotConfig = {
    workers: hasWorkers ? workers : alias,
    partitionCount: r.int('partition_count', d.partitionCount, { min: 1, max: 65_536 }),
    consistent: r.bool('snapshot_consistent', d.snapshotConsistent),
    stateBackend,
    stateSchema: parseIdentifierOption(r, 'snapshot_state_schema', d.snapshotStateSchema),
    stateTable: parseIdentifierOption(r, 'snapshot_state_table', d.snapshotStateTable),
  };
  if (partitionColumnRaw !== undefined) snapshot.partitionColumn = parseIdentifier(partitionColumnRaw, r.field('partition_column'));
  if (statePath !== undefined) snapshot.statePath = statePath;
  return snapshot;
}

function parseMonitoring(r: OptionReader): MonitoringConfig {
  const d = POSTGRES_SOURCE_DEFAULTS;
  const heartbeatIntervalMs = r.durationMs('heartbeat_interval', d.heartbeatIntervalMs, { maxMs: 86_400_000 });
  if (heartbeatIntervalMs > 0 && heartbeatIntervalMs < 100) {
    throw invalidArgument(r.field('heartbeat_interval'), 'is shorter than 100ms', 'use e.g. 30s, or 0 to disable heartbeats');
  }
  return {
    heartbeatIntervalMs,
    lagAlarmBytes: r.int('lag_alarm_bytes', d.lagAlarmBytes, { min: 0, max: Number.MAX_SAFE_INTEGER }),
    lagAlarmSeconds: r.durationMs('lag_alarm_seconds', d.lagAlarmSeconds * 1000, { maxMs: 30 * 86_400_000 }) / 1000,
    stallAlarmMs: r.durationMs('stall_alarm', d.stallAlarmMs, { maxMs: 30 * 86_400_000 }),
  };
}

/**
 * Parses the options of a `postgres` source. `path` is the field path of the options map (e.g.
 * `source.options`), used in every error. Unknown keys are rejected.
 */
export function parsePostgresSourceConfig(options: OptionMap, path: string): PostgresSourceConfig {
  const r = new OptionReader(options, path);
  const d = POSTGRES_SOURCE_DEFAULTS;

  const dsn = r.required('dsn', 'set it to a postgres URL, e.g. postgres://user:password@host:5432/dbname');
  validateDsn(dsn, r.field('dsn'));
  const slot = r.required('slot', 'name the replication slot, e.g. ductstream_orders');
  if (!SLOT_NAME.test(slot)) {
    throw invalidArgument(r.field('slot'), `"${slot}" is not a valid replication slot name`, 'use 1 to 63 lower-case letters, digits and underscores');
  }
  const publication = parseIdentifier(r.required('publication', 'name the publication, e.g. ductstream_pub'), r.field('publication'));

  const publicationTables = r.list('publication_tables').map((t) => parseQualifiedTable(t, r.field('publication_tables')));
  const publicationSchemas = r.list('publication_schemas').map((s) => parseIdentifier(s, r.field('publication_schemas')));

  const config: PostgresSourceConfig = {
    dsn,
    slot,
    publication,
    createSlot: r.bool('create_slot', d.createSlot),
    ensurePublication: r.bool('ensure_publication', d.ensurePublication),
    publicationTables,
    publicationSchemas,
    validateReplication: r.bool('validate_replication', d.validateReplication),
    batchSize: r.int('batch_size', d.batchSize, { min: 1, max: 1_000_000 }),
    batchTimeoutMs: r.durationMs('batch_timeout', d.batchTimeoutMs, { minMs: 1, maxMs: 3_600_000 }),
    statusIntervalMs: r.durationMs('status_interval', d.statusIntervalMs, { minMs: 100, maxMs: 3_600_000 }),
    emitEmpty: r.bool('emit_empty', d.emitEmpty),
    resolveTypes: r.bool('resolve_types', d.resolveTypes),
    syncPublication: r.bool('sync_publication', d.syncPublication),
    syncPublicationMode: r.oneOf('sync_publication_mode', ['add', 'sync'] as const, d.syncPublicationMode),
    ensureState: r.bool('ensure_state', d.ensureState),
    stateSchema: parseIdentifierOption(r, 'state_schema', d.stateSchema),
    stateTable: parseIdentifierOption(r, 'state_table', d.stateTable),
    snapshot: parseSnapshot(r),
    monitoring: parseMonitoring(r),
  };
  const flowId = r.optionalString('flow_id');
  if (flowId !== undefined) {
    if (flowId.length > 200) throw invalidArgument(r.field('flow_id'), 'is longer than 200 characters', 'use a short stable id, e.g. the flow id');
    config.flowId = flowId;
  }
  r.rejectUnknown();
  return config;
}
