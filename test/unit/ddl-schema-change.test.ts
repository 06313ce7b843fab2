import type { Column, TableSchema } from '../../src/core/change';
import { diffTableSchemas, isCompatible, isWidening, kindOf } from '../../src/core/schemaChange';
import { ansiAlterSyntax, evolutionStatements } from '../../src/destinations/sql/schema-evolution';
import { tableLayout } from '../../src/destinations/sql/layout';
import { readWarehouseOptions } from '../../src/destinations/sql/options';
import { OptionReader } from '../../src/config/options';
import { duckdbDialect } from '../../src/destinations/duckdb/dialect';
import { snowflakeSyntax, snowflakeTypes } from '../../src/destinations/snowflake/dialect';
import { snowflakeAlterSyntax } from '../../src/destinations/snowflake/evolve';

function col(name: string, pgType: string, attnum: number, typmod = -1): Column {
  const kinds: Record<string, Column['valueKind']> = { int4: 'int', int8: 'bigint', text: 'text', varchar: 'text', numeric: 'numeric' };
  return {
    name,
    pgType,
    typeOid: { int4: 23, int8: 20, text: 25, varchar: 1043, numeric: 1700 }[pgType] ?? 0,
    typmod,
    formattedType: pgType,
    nullable: true,
    valueKind: kinds[pgType] ?? 'text',
    attnum,
  };
}

function table(columns: Column[], primaryKey = ['id']): TableSchema {
  return { schema: 'public', name: 'items', relationId: 1, columns, primaryKey, replicaIdentity: 'default' };
}

const base = table([col('id', 'int4', 1), col('qty', 'int4', 2), col('note', 'text', 3), col('old', 'text', 4)]);

describe('diffTableSchemas', () => {
  it('finds added, dropped, renamed (by attnum) and retyped columns and key changes', () => {
    const next = table([col('id', 'int4', 1), col('qty', 'int8', 2), col('label', 'text', 3), col('price', 'numeric', 5)], ['id', 'qty']);
    const changes = diffTableSchemas(base, next);
    expect(changes.map((c) => c.kind)).toEqual(['retype_column', 'rename_column', 'add_column', 'drop_column', 'key_change']);
    expect(changes[1]).toMatchObject({ kind: 'rename_column', from: 'note', column: { name: 'label' } });
    expect(changes[3]).toMatchObject({ kind: 'drop_column', column: { name: 'old' } });
    expect(kindOf(changes)).toBe('retype_column,rename_column,add_column,drop_column,key_change');
  });

  it('a dropped column re-added under the same name (new attnum) is a drop and an add, not a no-op', () => {
    const next = table([col('id', 'int4', 1), col('qty', 'int4', 2), col('note', 'text', 3), col('old', 'text', 9)]);
    expect(diffTableSchemas(base, next).map((c) => c.kind)).toEqual(['add_column', 'drop_column']);
  });

  it('no change for the same shape', () => {
    expect(diffTableSchemas(base, table(base.columns.map((c) => ({ ...c }))))).toEqual([]);
  });
});

describe('compatibility', () => {
  it('widening and key changes are compatible, narrowing is not', () => {
    expect(isWidening(col('a', 'int4', 1), col('a', 'int8', 1))).toBe(true);
    expect(isWidening(col('a', 'int8', 1), col('a', 'int4', 1))).toBe(false);
    expect(isWidening(col('a', 'varchar', 1, 14), col('a', 'varchar', 1, 24))).toBe(true);
    expect(isWidening(col('a', 'varchar', 1, 24), col('a', 'varchar', 1, 14))).toBe(false);
    expect(isWidening(col('a', 'varchar', 1, 24), col('a', 'text', 1))).toBe(true);
    // numeric(10,2) -> numeric(12,2) widens; -> numeric(12,4) keeps 8 integer digits: widens; -> numeric(9,2) does not
    const n = (p: number, s: number) => ((p << 16) | s) + 4;
    expect(isWidening(col('a', 'numeric', 1, n(10, 2)), col('a', 'numeric', 1, n(12, 2)))).toBe(true);
    expect(isWidening(col('a', 'numeric', 1, n(10, 2)), col('a', 'numeric', 1, n(12, 4)))).toBe(true);
    expect(isWidening(col('a', 'numeric', 1, n(10, 2)), col('a', 'numeric', 1, n(9, 2)))).toBe(false);
    // A key change is followed without loss (rebuilt or re-keyed by each destination): no approval needed.
    expect(isCompatible({ kind: 'key_change', from: ['id'], to: ['id', 'qty'] })).toBe(true);
    expect(isCompatible({ kind: 'retype_column', from: col('a', 'int8', 1), column: col('a', 'int4', 1) })).toBe(false);
  });
});

describe('evolutionStatements (DuckDB, Snowflake)', () => {
  const options = (o: Record<string, string>) => readWarehouseOptions(new OptionReader(o, 'destinations[0].options'), 'destinations[0].options');
  const next = table([col('id', 'int4', 1), col('qty', 'int8', 2), col('label', 'text', 3), col('price', 'numeric', 5)]);
  const change = { table: next, before: base, after: next, changes: diffTableSchemas(base, table(next.columns)) };
  const target = { schema: 'public', name: 'items' };

  it('alters only what the table lacks; dropped columns are kept by default', () => {
    const layout = tableLayout(next, target, options({}), duckdbDialect);
    const sql = evolutionStatements(duckdbDialect, ansiAlterSyntax(duckdbDialect), {
      change,
      table: target,
      layout,
      existing: new Set(['id', 'qty', 'note', 'old']),
      dropColumns: false,
    });
    expect(sql).toEqual([
      'ALTER TABLE "public"."items" ALTER COLUMN "qty" TYPE BIGINT',
      'ALTER TABLE "public"."items" RENAME COLUMN "note" TO "label"',
      expect.stringMatching(/^ALTER TABLE "public"."items" ADD COLUMN "price" /),
    ]);
    // applied again (the columns are there now): only the idempotent retype is repeated
    const again = evolutionStatements(duckdbDialect, ansiAlterSyntax(duckdbDialect), {
      change,
      table: target,
      layout,
      existing: new Set(['id', 'qty', 'label', 'old', 'price']),
      dropColumns: false,
    });
    expect(again).toEqual(['ALTER TABLE "public"."items" ALTER COLUMN "qty" TYPE BIGINT']);
  });

  it('ddl_drop_columns drops; a key change and a retype refused in place yield no ALTER (the strategy rebuilds)', () => {
    const layout = tableLayout(next, target, options({ ddl_drop_columns: 'true' }), duckdbDialect);
    const sql = evolutionStatements(duckdbDialect, ansiAlterSyntax(duckdbDialect), {
      change,
      table: target,
      layout,
      existing: new Set(['id', 'qty', 'label', 'old', 'price']),
      dropColumns: true,
    });
    expect(sql).toContain('ALTER TABLE "public"."items" DROP COLUMN "old"');
    const keyed = { ...change, changes: [{ kind: 'key_change' as const, from: ['id'], to: ['id', 'qty'] }, ...change.changes] };
    const rekeyed = evolutionStatements(duckdbDialect, ansiAlterSyntax(duckdbDialect), {
      change: keyed,
      table: target,
      layout,
      existing: new Set(['id', 'qty', 'label', 'old', 'price']),
      dropColumns: false,
      retypeInPlace: (c) => c !== 'qty',
    });
    expect(rekeyed).toEqual([]);
  });

  it("uses Snowflake's ALTER TABLE forms (SET DATA TYPE)", () => {
    const layout = tableLayout(next, target, options({}), snowflakeTypes);
    const sql = evolutionStatements(snowflakeSyntax, snowflakeAlterSyntax, {
      change,
      table: target,
      layout,
      existing: new Set(['id', 'qty', 'note', 'old']),
      dropColumns: true,
    });
    expect(sql).toEqual([
      'ALTER TABLE "public"."items" DROP COLUMN "old"',
      'ALTER TABLE "public"."items" ALTER COLUMN "qty" SET DATA TYPE NUMBER(38,0)',
      'ALTER TABLE "public"."items" RENAME COLUMN "note" TO "label"',
      'ALTER TABLE "public"."items" ADD COLUMN "price" VARCHAR', // unconstrained numeric: exact text,
    ]);
  });
});
