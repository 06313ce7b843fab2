/**
 * The statements the snowflake destination sends, pinned against Snowflake's documented syntax
 * (docs.snowflake.com: MERGE, QUALIFY, COPY INTO <table>, PUT, CREATE TABLE ... TRANSIENT,
 * ALTER TABLE ... ADD COLUMN IF NOT EXISTS). The stand-in used by the integration tests is not
 * Snowflake, so these are the check that what would reach Snowflake is Snowflake SQL.
 */
import { tableLayout } from '../../src/destinations/sql/layout';
import { readWarehouseOptions } from '../../src/destinations/sql/options';
import { planTable } from '../../src/destinations/sql/plan';
import { OptionReader } from '../../src/config/options';
import { fromText, snowflakeDdl, snowflakeTypeName, snowflakeTypes } from '../../src/destinations/snowflake/dialect';
import { applyStatements } from '../../src/destinations/snowflake/merge';
import { addKeyColumns, mergeKeyMeta, mergeWatermark } from '../../src/destinations/snowflake/meta';
import { rawColumns, rawRows } from '../../src/destinations/snowflake/raw';
import { RAW_FILE_FORMAT } from '../../src/destinations/snowflake/raw-load';
import { csvRecord } from '../../src/destinations/snowflake/values';
import { ChangeLog, table } from '../support/changes';

const users = table('public.users', { id: 'int8', name: 'text', doc: 'jsonb', pic: 'bytea' }, { primaryKey: ['id'] });
const RAWT = { schema: 'DUCTSTREAM_META', name: '__ds_raw_x' };

function layoutOf(options: Record<string, string> = {}) {
  return tableLayout(users, { schema: 'public', name: 'users' }, readWarehouseOptions(new OptionReader(options, 'o'), 'o'), snowflakeTypes);
}

describe('snowflake statements (pinned to Snowflake syntax)', () => {
  it('maps types as documented: NUMBER, VARCHAR beyond 38 digits, TIMESTAMP_TZ/NTZ, BINARY, VARIANT, ARRAY, BOOLEAN', () => {
    expect(snowflakeTypeName({ kind: 'bigint' })).toBe('NUMBER(38,0)');
    expect(snowflakeTypeName({ kind: 'decimal', precision: 38, scale: 9 })).toBe('NUMBER(38,9)');
    expect(snowflakeTypeName({ kind: 'timestamptz' })).toBe('TIMESTAMP_TZ(6)');
    expect(snowflakeTypeName({ kind: 'timestamp' })).toBe('TIMESTAMP_NTZ(6)');
    expect(snowflakeTypeName({ kind: 'blob' })).toBe('BINARY');
    expect(snowflakeTypeName({ kind: 'json' })).toBe('VARIANT');
    expect(snowflakeTypeName({ kind: 'list', element: { kind: 'integer' } })).toBe('ARRAY');
    expect(snowflakeTypeName({ kind: 'boolean' })).toBe('BOOLEAN');
    const wide = tableLayout(
      table('public.n', { id: 'int4', big: 'numeric(50,5)', ok: 'numeric(38,2)' }, { primaryKey: ['id'] }),
      { schema: 'p', name: 'n' },
      readWarehouseOptions(new OptionReader({ type_mappings: '{"int4":"NUMBER(10,0)"}' }, 'o'), 'o'),
      snowflakeTypes,
    );
    expect(wide.columns.map((c) => c.ddlType)).toEqual(['NUMBER(10,0)', 'VARCHAR', 'NUMBER(38,2)']);
    expect(fromText('r."pic"', { kind: 'blob' })).toBe(`TO_BINARY(r."pic", 'HEX')`);
    expect(fromText('r."doc"', { kind: 'json' })).toBe('PARSE_JSON(r."doc")');
  });

  it('creates a TRANSIENT raw table of VARCHAR columns and the meta tables', () => {
    const ddl = snowflakeDdl('DUCTSTREAM_META', '__METADATA');
    const raw = ddl.createLoadTable('__ds_raw_x', rawColumns(layoutOf()));
    expect(raw.sql).toMatch(
      /^CREATE OR REPLACE TRANSIENT TABLE "DUCTSTREAM_META"\."__ds_raw_x" \("__ds_action" VARCHAR, .*"pic" VARCHAR\) DATA_RETENTION_TIME_IN_DAYS = 0$/,
    );
    expect(ddl.metaTable).toEqual({ schema: 'DUCTSTREAM_META', name: '__METADATA_WATERMARKS' });
    expect(addKeyColumns({ table: { schema: 'M', name: 'T' }, pkPrefix: 'pk_' }, layoutOf())).toEqual([
      'ALTER TABLE "M"."T" ADD COLUMN IF NOT EXISTS "pk_id" VARCHAR',
    ]);
  });

  it('applies a table with one MERGE that keeps the latest change per key (QUALIFY), deletes, moves keys and keeps unchanged TOAST', () => {
    const log = new ChangeLog('f');
    log.tx((x) => x.insert(users, { id: 1n, name: 'a', doc: '{}', pic: null }).insert(users, { id: 2n, name: 'b', doc: null, pic: null }));
    log.batch();
    log.tx((x) =>
      x
        .update(users, { id: 1n, name: 'a2' }, { unchangedToast: ['doc', 'pic'] })
        .delete(users, { id: 2n })
        .update(users, { id: 30n, name: 'moved', doc: null, pic: null }, { before: { id: 3n } }),
    );
    const layout = layoutOf();
    const batch = log.batch();
    const rows = rawRows(layout, planTable(layout, batch.changes));
    const [merge, ...rest] = applyStatements(layout, RAWT, rows, false);
    expect(rest).toEqual([]);
    expect(merge).toBe(
      'MERGE INTO "public"."users" AS t USING (SELECT r."__ds_action", r."__ds_op", r."__ds_lsn", r."__ds_seq", r."__ds_ord", r."__ds_deleted", r."__ds_commit_time", ' +
        `CAST(r."id" AS NUMBER(38,0)) AS "id", r."name" AS "name", CASE WHEN CONTAINS(COALESCE(r."__ds_keep", ''), ',2,') THEN f."doc" ELSE PARSE_JSON(r."doc") END AS "doc", ` +
        `CASE WHEN CONTAINS(COALESCE(r."__ds_keep", ''), ',3,') THEN f."pic" ELSE TO_BINARY(r."pic", 'HEX') END AS "pic" ` +
        'FROM "DUCTSTREAM_META"."__ds_raw_x" AS r LEFT JOIN "public"."users" AS f ON r."__ds_keep" IS NOT NULL AND f."id" = CAST(r."__ds_src_0" AS NUMBER(38,0)) ' +
        'QUALIFY ROW_NUMBER() OVER (PARTITION BY r."id" ORDER BY CAST(r."__ds_lsn" AS NUMBER(20,0)) DESC, CAST(r."__ds_seq" AS NUMBER(38,0)) DESC, CAST(r."__ds_ord" AS NUMBER(38,0)) DESC) = 1) AS s ' +
        'ON t."id" = s."id" ' +
        `WHEN MATCHED AND s."__ds_action" = 'delete' THEN DELETE ` +
        `WHEN MATCHED AND s."__ds_action" = 'upsert' THEN UPDATE SET "name" = s."name", "doc" = s."doc", "pic" = s."pic" ` +
        `WHEN NOT MATCHED AND s."__ds_action" = 'upsert' THEN INSERT ("id", "name", "doc", "pic") VALUES (s."id", s."name", s."doc", s."pic")`,
    );
    // The key move deletes id 3 and writes id 30; id 1 keeps doc and pic (columns 2 and 3) from the target row 1.
    const byKey = new Map(rows.rows.map((r) => [r[7], r]));
    expect(byKey.get('{"id":"3"}')?.[0]).toBe('delete');
    expect(byKey.get('{"id":"30"}')?.[0]).toBe('upsert');
    expect(byKey.get('{"id":"1"}')?.slice(8, 10)).toEqual([',2,3,', '1']);
  });

  it('merges the meta table and the watermark in Snowflake MERGE syntax', () => {
    const layout = layoutOf();
    const meta = mergeKeyMeta({ table: { schema: 'DUCTSTREAM_META', name: '__METADATA' }, pkPrefix: 'pk_' }, 'flow-1', users, layout, RAWT);
    expect(meta).toMatch(
      /^MERGE INTO "DUCTSTREAM_META"\."__METADATA" AS m USING \(SELECT 'flow-1' AS "flow_id", 'public' AS "source_schema", 'users' AS "source_table", r\."__ds_key_json" AS "key_json", r\."id" AS "pk_id", /,
    );
    expect(meta).toContain('QUALIFY ROW_NUMBER() OVER (PARTITION BY r."__ds_key_json" ORDER BY');
    expect(meta).toContain(
      'WHEN MATCHED THEN UPDATE SET "synced_at" = CURRENT_TIMESTAMP(), "is_deleted" = s."is_deleted", "lsn" = s."lsn", "operation" = s."operation"',
    );
    const wm = mergeWatermark(
      { schema: 'M', name: 'W' },
      { key: { flowId: "it's", source: users, target: { schema: 'p', name: 'u' } }, to: { commitLsn: 42n, seq: 3 }, commitTimeMicros: 0n, existed: true },
    );
    expect(wm).toBe(
      `MERGE INTO "M"."W" AS m USING (SELECT 'it''s' AS "flow_id", 'public' AS "source_schema", 'users' AS "source_table", 'p' AS "target_schema", 'u' AS "target_table", ` +
        `CAST(42 AS NUMBER(20,0)) AS "commit_lsn", 3 AS "seq", CAST('1970-01-01T00:00:00Z' AS TIMESTAMP_TZ(6)) AS "commit_time") AS s ` +
        'ON m."flow_id" = s."flow_id" AND m."source_schema" = s."source_schema" AND m."source_table" = s."source_table" AND m."target_schema" = s."target_schema" AND m."target_table" = s."target_table" ' +
        'WHEN MATCHED THEN UPDATE SET "commit_lsn" = s."commit_lsn", "seq" = s."seq", "commit_time" = s."commit_time", "updated_at" = CURRENT_TIMESTAMP() ' +
        'WHEN NOT MATCHED THEN INSERT ("flow_id", "source_schema", "source_table", "target_schema", "target_table", "commit_lsn", "seq", "commit_time", "updated_at") ' +
        'VALUES (s."flow_id", s."source_schema", s."source_table", s."target_schema", s."target_table", s."commit_lsn", s."seq", s."commit_time", CURRENT_TIMESTAMP())',
    );
  });

  it('stages CSV whose NULL and empty string stay distinct, with a documented CSV file format', () => {
    expect(csvRecord(['a"b', null, '', 'x,\ny'])).toBe('"a""b",,"","x,\ny"\n');
    expect(RAW_FILE_FORMAT).toBe(
      `TYPE = CSV FIELD_DELIMITER = ',' RECORD_DELIMITER = '\\n' FIELD_OPTIONALLY_ENCLOSED_BY = '"' EMPTY_FIELD_AS_NULL = TRUE NULL_IF = () ESCAPE_UNENCLOSED_FIELD = NONE ENCODING = 'UTF8'`,
    );
  });

  it('refuses updates of a keyless table (no row id in Snowflake) and appends in stream order in append mode', () => {
    const keyless = table('public.k', { a: 'int4' }, { replicaIdentity: 'full' });
    const o = readWarehouseOptions(new OptionReader({}, 'o'), 'o');
    const layout = tableLayout(keyless, { schema: 'p', name: 'k' }, o, snowflakeTypes);
    const log = new ChangeLog('f');
    log.tx((x) => x.insert(keyless, { a: 1 }).update(keyless, { a: 2 }, { before: { a: 1 } }));
    const plan = planTable(layout, log.batch().changes);
    expect(() => applyStatements(layout, RAWT, rawRows(layout, plan), false)).toThrow(/no primary key/);
    const append = layoutOf({ append_mode: 'true' });
    const log2 = new ChangeLog('f');
    log2.tx((x) => x.insert(users, { id: 1n, name: 'a', doc: null, pic: null }).delete(users, { id: 1n }));
    const [insert] = applyStatements(append, RAWT, rawRows(append, planTable(append, log2.batch().changes)), false);
    expect(insert).toMatch(
      /^INSERT INTO "public"\."users" \("id", "name", "doc", "pic", "__ds_op", "__ds_lsn", "__ds_seq", "__ds_commit_time"\) SELECT .* FROM "DUCTSTREAM_META"\."__ds_raw_x" AS r ORDER BY CAST\(r\."__ds_ord" AS NUMBER\(38,0\)\)$/,
    );
  });
});
