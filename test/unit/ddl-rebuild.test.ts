import type { Column, TableSchema } from '../../src/core/change';
import { diffTableSchemas } from '../../src/core/schemaChange';
import { parseSortingKey } from '../../src/destinations/clickhouse/rebuild';
import { duckdbDialect } from '../../src/destinations/duckdb/dialect';
import { snowflakeRetypesInPlace } from '../../src/destinations/snowflake/evolve';
import { tableLayout } from '../../src/destinations/sql/layout';
import { readWarehouseOptions } from '../../src/destinations/sql/options';
import { keyRetypes, planRebuild, rebuildStatements } from '../../src/destinations/sql/rebuild';
import { OptionReader } from '../../src/config/options';

function col(name: string, pgType: 'int4' | 'int8' | 'text', attnum: number): Column {
  const oid = { int4: 23, int8: 20, text: 25 }[pgType];
  const valueKind = ({ int4: 'int', int8: 'bigint', text: 'text' } as const)[pgType];
  return { name, pgType, typeOid: oid, typmod: -1, formattedType: pgType, nullable: true, valueKind, attnum };
}
const table = (columns: Column[], primaryKey: string[]): TableSchema => ({
  schema: 'public',
  name: 'items',
  relationId: 1,
  columns,
  primaryKey,
  replicaIdentity: 'default',
});
const options = readWarehouseOptions(new OptionReader({}, 'destinations[0].options'), 'destinations[0].options');
const target = { schema: 'public', name: 'items' };

describe('table rebuilds for key changes (DuckDB)', () => {
  const before = table([col('id', 'int4', 1), col('code', 'text', 2)], ['id']);
  const after = table([col('id', 'int8', 1), col('code', 'text', 2)], ['code', 'id']);
  const change = { table: after, before, after, changes: diffTableSchemas(before, after) };
  const input = { change, table: target, layout: tableLayout(after, target, options, duckdbDialect), dropColumns: false };
  const existing = [
    { name: 'id', type: 'INTEGER' },
    { name: 'code', type: 'VARCHAR' },
    { name: 'kept', type: 'VARCHAR' },
  ];

  it('rebuilds with the new key, keeps every column and casts the retyped key column', () => {
    const retypes = keyRetypes(input, ['id']);
    expect([...retypes]).toEqual(['id']);
    const plan = planRebuild(input, existing, ['id'], retypes)!;
    expect(plan.key).toEqual(['code', 'id']);
    expect(plan.columns).toEqual([
      { name: 'id', type: 'BIGINT', cast: true },
      { name: 'code', type: 'VARCHAR', cast: false },
      { name: 'kept', type: 'VARCHAR', cast: false },
    ]);
    expect(rebuildStatements(duckdbDialect, target, plan)).toEqual([
      'BEGIN TRANSACTION',
      'DROP TABLE IF EXISTS "public"."items__ds_rebuild"',
      'CREATE TABLE IF NOT EXISTS "public"."items__ds_rebuild" ("id" BIGINT, "code" VARCHAR, "kept" VARCHAR, PRIMARY KEY ("code", "id"))',
      'INSERT INTO "public"."items__ds_rebuild" ("id", "code", "kept") SELECT CAST("id" AS BIGINT), "code", "kept" FROM "public"."items"',
      'DROP TABLE "public"."items"',
      'ALTER TABLE "public"."items__ds_rebuild" RENAME TO "items"',
      'COMMIT',
    ]);
  });

  it('does nothing when the table has the key and types already (an apply repeated)', () => {
    const done = [{ name: 'id', type: 'BIGINT' }, ...existing.slice(1)];
    expect(planRebuild(input, done, ['code', 'id'], keyRetypes(input, ['code', 'id']))).toBeUndefined();
  });
});

describe('ClickHouse sorting keys as system.tables prints them', () => {
  it.each([
    ['(id)', ['id']],
    ['id', ['id']],
    ['code, id', ['code', 'id']],
    ['(code, id)', ['code', 'id']],
    ['`a b`, id', ['a b', 'id']],
    ['', []],
    ['tuple()', []],
  ])('%j', (text, key) => expect(parseSortingKey(text)).toEqual(key));
});

describe('Snowflake retypes in place', () => {
  it.each([
    ['VARCHAR', 'VARCHAR', true],
    ['VARCHAR(10)', 'VARCHAR(20)', true],
    ['NUMBER(10,2)', 'NUMBER(12,2)', true],
    ['NUMBER(10,2)', 'NUMBER(12,4)', false],
    ['NUMBER(12,2)', 'NUMBER(10,2)', false],
    ['VARCHAR', 'NUMBER(38,0)', false],
    ['NUMBER(38,0)', 'VARCHAR', false],
  ])('%s -> %s: %s', (from, to, inPlace) => expect(snowflakeRetypesInPlace(from, to)).toBe(inPlace));
});
