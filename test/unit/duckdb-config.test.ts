import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { DuctError } from '../../src/core/errors';
import { parseDuckdbConfig } from '../../src/destinations/duckdb/config';
import { WAREHOUSE_DEFAULTS } from '../../src/destinations/sql/options';

const path = 'destinations[1].options';

function fails(options: Record<string, string>): DuctError {
  try {
    parseDuckdbConfig(options, path);
  } catch (e) {
    expect(e).toBeInstanceOf(DuctError);
    return e as DuctError;
  }
  throw new Error('expected the options to be refused');
}

describe('DuckDB destination options', () => {
  test('defaults', () => {
    const c = parseDuckdbConfig({ dsn: './data/warehouse.duckdb' }, path);
    expect(c).toEqual({
      path,
      dsn: './data/warehouse.duckdb',
      dsnField: 'destinations[1].options.dsn',
      backfillCsv: true,
      schema: undefined,
      table: undefined,
      writeMode: 'target',
      batchMode: 'target',
      batchResolution: 'none',
      stagingSchema: undefined,
      stagingTable: undefined,
      stagingSuffix: '_staging',
      metaTableEnabled: true,
      meta: {
        enabled: false,
        syncedAt: '__ds_synced_at',
        deleted: '__ds_is_deleted',
        watermark: '__ds_watermark',
        op: '__ds_op',
        watermarkSource: 'timestamp',
      },
      softDelete: false,
      typeMappings: new Map(),
      dropColumns: false,
    });
    expect(WAREHOUSE_DEFAULTS.staging_suffix).toBe('_staging');
  });

  test('every documented option is read', () => {
    const c = parseDuckdbConfig(
      {
        dsn: ':memory:',
        schema: 'wh',
        table: 't',
        write_mode: 'append',
        batch_mode: 'staging',
        batch_resolution: 'replace',
        staging_schema: 'stage',
        staging_table: 'st',
        staging_suffix: '_s',
        meta_table_enabled: 'false',
        meta_enabled: 'true',
        meta_synced_at: 'a',
        meta_deleted: 'b',
        meta_watermark: '-',
        meta_op: 'c',
        watermark_source: 'lsn',
        soft_delete: 'true',
        append_mode: 'false',
        type_mappings: '{"jsonb": "VARCHAR"}',
        format: 'arrow',
        ddl_drop_columns: 'true',
        memory_limit: '96MB',
        backfill_csv: 'false',
      },
      path,
    );
    expect(c).toMatchObject({
      dropColumns: true,
      memoryLimit: '96MB',
      backfillCsv: false,
      schema: 'wh',
      table: 't',
      writeMode: 'append',
      batchMode: 'staging',
      batchResolution: 'replace',
      stagingSchema: 'stage',
      stagingTable: 'st',
      stagingSuffix: '_s',
      metaTableEnabled: false,
      softDelete: true,
      meta: { enabled: true, syncedAt: 'a', deleted: 'b', watermark: undefined, op: 'c', watermarkSource: 'lsn' },
    });
    expect(Object.fromEntries(c.typeMappings)).toEqual({ jsonb: 'VARCHAR' });
  });

  test('append_mode=true selects append mode', () => {
    expect(parseDuckdbConfig({ dsn: 'x', append_mode: 'true' }, path).writeMode).toBe('append');
  });

  test('bad input names the field and the fix', () => {
    expect(fails({}).message).toBe('destinations[1].options.dsn: is required');
    expect(fails({ dsn: 'x', dns: 'y' }).field).toBe('destinations[1].options.dns');
    const mode = fails({ dsn: 'x', write_mode: 'upsert' });
    expect(mode.field).toBe('destinations[1].options.write_mode');
    expect(mode.hint).toBe('use one of: target, append');
    expect(fails({ dsn: 'x', batch_resolution: 'merge' }).field).toBe('destinations[1].options.batch_resolution');
    expect(fails({ dsn: 'x', soft_delete: 'maybe' }).field).toBe('destinations[1].options.soft_delete');
    expect(fails({ dsn: 'x', meta_op: '__ds_is_deleted' }).field).toBe('destinations[1].options.meta_op');
    expect(fails({ dsn: 'x', type_mappings: '{' }).field).toBe('destinations[1].options.type_mappings');
    expect(fails({ dsn: 'x', type_mappings_file: '/nonexistent/m.json' }).field).toBe('destinations[1].options.type_mappings_file');
    const limit = fails({ dsn: 'x', memory_limit: 'lots' });
    expect(limit.field).toBe('destinations[1].options.memory_limit');
    expect(limit.hint).toBe('use a size such as 512MB or 2GB');
  });

  test('importing the destination registry loads no DuckDB driver; create() does', () => {
    const root = join(__dirname, '../..');
    const script = `
      require('./src/destinations');
      const { silentLogger } = require('./src/core/log');
      const { getDestinationKind } = require('./src/destinations/registry');
      const kind = getDestinationKind('duckdb', 't');
      kind.parseConfig({ dsn: ':memory:' }, 'd');
      const loaded = () => Object.keys(require.cache).some((k) => k.includes('@duckdb'));
      const before = loaded();
      kind.create(kind.parseConfig({ dsn: ':memory:' }, 'd'), { flowId: 'f', name: 'n', wireFormat: 'json', parallelism: 1, log: silentLogger })
        .then(() => console.log(JSON.stringify({ before, after: loaded() })));
    `;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, encoding: 'utf8' });
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ before: false, after: true });
  });
});
