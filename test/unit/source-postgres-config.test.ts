import { DuctError } from '../../src/core/errors';
import { parsePostgresSourceConfig, POSTGRES_SOURCE_DEFAULTS } from '../../src/source/postgres/config';
import { clientConfigFromDsn, parseKeyValueDsn, validateDsn } from '../../src/source/postgres/dsn';
import { parseIdentifier, parseQualifiedTable, quoteTable } from '../../src/source/postgres/identifiers';

const base = { dsn: 'postgres://u:secret@localhost:5432/app', slot: 'ds_slot', publication: 'ds_pub' };

function errorOf(fn: () => unknown): DuctError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DuctError) return e;
    throw e;
  }
  throw new Error('expected an error');
}

describe('parsePostgresSourceConfig', () => {
  test('applies every documented default', () => {
    const c = parsePostgresSourceConfig(base, 'source.options');
    expect(c).toEqual({
      dsn: base.dsn,
      slot: 'ds_slot',
      publication: 'ds_pub',
      createSlot: true,
      ensurePublication: true,
      publicationTables: [],
      publicationSchemas: [],
      validateReplication: true,
      batchSize: 100,
      batchTimeoutMs: 1000,
      statusIntervalMs: 10_000,
      emitEmpty: false,
      resolveTypes: true,
      syncPublication: false,
      syncPublicationMode: 'add',
      ensureState: true,
      stateSchema: 'ductstream',
      stateTable: 'source_state',
      snapshot: { workers: 1, partitionCount: 1, consistent: true, stateBackend: 'postgres', stateSchema: 'ductstream', stateTable: 'snapshot_state' },
      monitoring: { heartbeatIntervalMs: 30_000, lagAlarmBytes: 1024 * 1024 * 1024, lagAlarmSeconds: 0, stallAlarmMs: 300_000 },
    });
    expect(POSTGRES_SOURCE_DEFAULTS.batchSize).toBe(100);
  });

  test('reads every option', () => {
    const c = parsePostgresSourceConfig(
      {
        ...base,
        create_slot: 'false',
        ensure_publication: 'false',
        publication_tables: 'orders, sales."Line Items",Public.Users',
        publication_schemas: 'public,audit',
        validate_replication: 'false',
        batch_size: '500',
        batch_timeout: '250ms',
        status_interval: '2s',
        emit_empty: 'true',
        resolve_types: 'false',
        sync_publication: 'true',
        sync_publication_mode: 'sync',
        ensure_state: 'false',
        state_schema: 'meta',
        state_table: 'src_state',
        flow_id: 'orders-flow',
        snapshot_workers: '4',
        partition_column: 'id',
        partition_count: '8',
        snapshot_consistent: 'false',
        snapshot_state_backend: 'file',
        snapshot_state_schema: 'snap',
        snapshot_state_table: 'snap_state',
        snapshot_state_path: '/tmp/snap.json',
      },
      'source.options',
    );
    expect(c.createSlot).toBe(false);
    expect(c.ensurePublication).toBe(false);
    expect(c.publicationTables).toEqual([
      { schema: 'public', name: 'orders' },
      { schema: 'sales', name: 'Line Items' },
      { schema: 'public', name: 'users' },
    ]);
    expect(c.publicationSchemas).toEqual(['public', 'audit']);
    expect(c.validateReplication).toBe(false);
    expect(c.batchSize).toBe(500);
    expect(c.batchTimeoutMs).toBe(250);
    expect(c.statusIntervalMs).toBe(2000);
    expect(c.emitEmpty).toBe(true);
    expect(c.resolveTypes).toBe(false);
    expect(c.syncPublication).toBe(true);
    expect(c.syncPublicationMode).toBe('sync');
    expect(c.ensureState).toBe(false);
    expect(c.stateSchema).toBe('meta');
    expect(c.stateTable).toBe('src_state');
    expect(c.flowId).toBe('orders-flow');
    expect(c.snapshot).toEqual({
      workers: 4,
      partitionColumn: 'id',
      partitionCount: 8,
      consistent: false,
      stateBackend: 'file',
      stateSchema: 'snap',
      stateTable: 'snap_state',
      statePath: '/tmp/snap.json',
    });
  });

  test('parallel_tables is an alias of snapshot_workers', () => {
    expect(parsePostgresSourceConfig({ ...base, parallel_tables: '3' }, 'source.options').snapshot.workers).toBe(3);
    expect(parsePostgresSourceConfig({ ...base, parallel_tables: '3', snapshot_workers: '3' }, 'source.options').snapshot.workers).toBe(3);
    const e = errorOf(() => parsePostgresSourceConfig({ ...base, parallel_tables: '3', snapshot_workers: '2' }, 'source.options'));
    expect(e.field).toBe('source.options.parallel_tables');
  });

  test.each([
    [{ dsn: '' }, 'source.options.dsn'],
    [{ slot: undefined }, 'source.options.slot'],
    [{ publication: undefined }, 'source.options.publication'],
    [{ slot: 'Bad-Slot' }, 'source.options.slot'],
    [{ publication: 'bad pub' }, 'source.options.publication'],
    [{ batch_size: '0' }, 'source.options.batch_size'],
    [{ batch_size: 'ten' }, 'source.options.batch_size'],
    [{ batch_timeout: 'soon' }, 'source.options.batch_timeout'],
    [{ status_interval: '1ms' }, 'source.options.status_interval'],
    [{ create_slot: 'maybe' }, 'source.options.create_slot'],
    [{ sync_publication_mode: 'replace' }, 'source.options.sync_publication_mode'],
    [{ snapshot_state_backend: 's3' }, 'source.options.snapshot_state_backend'],
    [{ snapshot_state_backend: 'file' }, 'source.options.snapshot_state_path'],
    [{ publication_tables: 'a.b.c' }, 'source.options.publication_tables'],
    [{ state_schema: '1abc' }, 'source.options.state_schema'],
    [{ partition_count: '0' }, 'source.options.partition_count'],
    [{ batchsize: '10' }, 'source.options.batchsize'],
  ])('rejects %j naming %s', (override, field) => {
    const opts: Record<string, string> = { ...base };
    for (const [k, v] of Object.entries(override)) {
      if (v === undefined) delete opts[k];
      else opts[k] = v;
    }
    const e = errorOf(() => parsePostgresSourceConfig(opts, 'source.options'));
    expect(e.code).toBe('invalid_argument');
    expect(e.field).toBe(field);
    expect(e.retry).toBe('never');
    expect(e.message).toContain(field);
  });

  test('an invalid DSN is rejected without showing its password', () => {
    const e = errorOf(() => parsePostgresSourceConfig({ ...base, dsn: 'postgres://me:hunter2@:99999/db' }, 'source.options'));
    expect(e.field).toBe('source.options.dsn');
    expect(e.message).not.toContain('hunter2');
    const e2 = errorOf(() => parsePostgresSourceConfig({ ...base, dsn: 'mysql://me:hunter2@host/db' }, 'source.options'));
    expect(e2.message).not.toContain('hunter2');
    expect(e2.message).toContain('****');
    const e3 = errorOf(() => parsePostgresSourceConfig({ ...base, dsn: 'host=x password=hunter2 port=abc' }, 'source.options'));
    expect(e3.message).not.toContain('hunter2');
  });
});

describe('heartbeat and alarm options', () => {
  test('parse durations and sizes; 0 disables', () => {
    const c = parsePostgresSourceConfig(
      { ...base, heartbeat_interval: '0', lag_alarm_bytes: '1048576', lag_alarm_seconds: '90', stall_alarm: '2m' },
      'source.options',
    );
    expect(c.monitoring).toEqual({ heartbeatIntervalMs: 0, lagAlarmBytes: 1048576, lagAlarmSeconds: 90, stallAlarmMs: 120_000 });
    expect(parsePostgresSourceConfig({ ...base, heartbeat_interval: '500ms' }, 'source.options').monitoring.heartbeatIntervalMs).toBe(500);
  });

  test('bad values name the option and the fix', () => {
    expect(errorOf(() => parsePostgresSourceConfig({ ...base, heartbeat_interval: '10ms' }, 'source.options')).message).toBe(
      'source.options.heartbeat_interval: is shorter than 100ms',
    );
    expect(errorOf(() => parsePostgresSourceConfig({ ...base, lag_alarm_bytes: '-1' }, 'source.options')).field).toBe('source.options.lag_alarm_bytes');
    expect(errorOf(() => parsePostgresSourceConfig({ ...base, stall_alarm: 'soon' }, 'source.options')).describe()).toMatch(
      /^source.options.stall_alarm: "soon" is not a duration \(use e.g./,
    );
  });
});

describe('DSNs', () => {
  test('key/value DSNs are parsed like libpq', () => {
    expect(parseKeyValueDsn("host=db.example port=5433 dbname=app user=me password='s p\\'w'")).toEqual({
      host: 'db.example',
      port: '5433',
      dbname: 'app',
      user: 'me',
      password: "s p'w",
    });
    expect(parseKeyValueDsn('not a dsn')).toBeUndefined();
    expect(() => validateDsn('host=localhost dbname=app', 'f')).not.toThrow();
    expect(() => validateDsn('postgresql://localhost/app?sslmode=disable', 'f')).not.toThrow();
    expect(() => validateDsn('postgres:///app?host=/tmp', 'f')).not.toThrow();
  });

  test('client configs carry the stable session settings', () => {
    const kv = clientConfigFromDsn('host=h port=5433 dbname=d user=u password=p sslmode=require', { replication: 'database' });
    expect(kv).toMatchObject({ host: 'h', port: 5433, database: 'd', user: 'u', password: 'p', replication: 'database', ssl: { rejectUnauthorized: false } });
    expect(kv.options).toContain('-c DateStyle=ISO');
    expect(kv.options).toContain('-c TimeZone=UTC');
    expect(kv.options).toContain('-c extra_float_digits=3');
    const url = clientConfigFromDsn('postgres://u@h/d');
    expect(url.connectionString).toBe('postgres://u@h/d');
    expect(url.options).toContain('-c bytea_output=hex');
  });
});

describe('identifiers', () => {
  test('fold unquoted names, keep quoted ones', () => {
    expect(parseIdentifier('Orders', 'f')).toBe('orders');
    expect(parseIdentifier('"Orders"', 'f')).toBe('Orders');
    expect(parseIdentifier('"a""b"', 'f')).toBe('a"b');
    expect(parseQualifiedTable('"My.Schema".t', 'f')).toEqual({ schema: 'My.Schema', name: 't' });
    expect(quoteTable({ schema: 'a"b', name: 'c' })).toBe('"a""b"."c"');
    expect(() => parseIdentifier('a b', 'f')).toThrow(DuctError);
    expect(() => parseIdentifier('x'.repeat(64), 'f')).toThrow(/63 bytes/);
  });
});
