import { qualified, type ColumnDef, type QualifiedName, type SqlDdl, type SqlDialect, type SqlSyntax, type SqlTypes } from '../sql/dialect';
import type { LogicalType } from '../sql/types';

/**
 * Snowflake type names (docs.snowflake.com, "SQL data types reference"): integers as NUMBER(38,0),
 * numerics up to 38 digits as NUMBER(p,s) (wider ones are kept as exact VARCHAR by the shared type
 * mapping), FLOAT, BINARY, VARIANT for json/jsonb, ARRAY for arrays, TIMESTAMP_TZ(6)/TIMESTAMP_NTZ(6)
 * and TIME(6) (PostgreSQL's microseconds), BOOLEAN. Types Snowflake lacks (timetz, interval, uuid,
 * enums) are VARCHAR holding PostgreSQL's text.
 */
export function snowflakeTypeName(t: LogicalType): string {
  switch (t.kind) {
    case 'boolean':
      return 'BOOLEAN';
    case 'smallint':
    case 'integer':
    case 'bigint':
      return 'NUMBER(38,0)';
    case 'lsn':
      return 'NUMBER(20,0)';
    case 'real':
    case 'double':
      return 'FLOAT';
    case 'decimal':
      return `NUMBER(${t.precision},${t.scale})`;
    case 'blob':
      return 'BINARY';
    case 'json':
      return 'VARIANT';
    case 'date':
      return 'DATE';
    case 'timestamp':
      return 'TIMESTAMP_NTZ(6)';
    case 'timestamptz':
      return 'TIMESTAMP_TZ(6)';
    case 'time':
      return 'TIME(6)';
    case 'list':
      return 'ARRAY';
    case 'text':
    case 'uuid':
    case 'timetz':
    case 'interval':
      return 'VARCHAR';
  }
}

/**
 * The SQL expression turning text `expr` (a raw-table column: every raw value is loaded as text)
 * into a value of logical type `t`. Text stays text; the rest is CAST, except BINARY (hex) and
 * VARIANT/ARRAY (JSON text), which have their own functions.
 */
export function fromText(expr: string, t: LogicalType): string {
  switch (t.kind) {
    case 'text':
    case 'uuid':
    case 'timetz':
    case 'interval':
      return expr;
    case 'blob':
      return `TO_BINARY(${expr}, 'HEX')`;
    case 'json':
      return `PARSE_JSON(${expr})`;
    case 'list':
      return `CAST(PARSE_JSON(${expr}) AS ARRAY)`;
    default:
      return `CAST(${expr} AS ${snowflakeTypeName(t)})`;
  }
}

export const snowflakeTypes: SqlTypes = { name: 'snowflake', maxDecimalPrecision: 38, typeName: snowflakeTypeName };

export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;
/** Snowflake string literals treat `\` as an escape: both it and `'` are doubled/escaped. */
export const quoteString = (value: string): string => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

export const snowflakeSyntax: SqlSyntax = {
  quoteIdent,
  quoteString,
  currentTimestamp: 'CURRENT_TIMESTAMP()',
  nullSafeEquals: (a, b) => `EQUAL_NULL(${a}, ${b})`,
  cast: (expr, type) => `CAST(${expr} AS ${type})`,
};

/** DDL for a Snowflake destination whose meta tables live in `metaSchema` (watermarks in `<meta_table>_WATERMARKS`). */
export function snowflakeDdl(metaSchema: string, metaTable: string): SqlDdl {
  return {
    metaTable: { schema: metaSchema, name: `${metaTable}_WATERMARKS` },
    createSchema: (schema) => `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`,
    createTable(table, columns, primaryKey) {
      const defs = columns.map((c: ColumnDef) => `${quoteIdent(c.name)} ${c.type}`);
      // Snowflake records but does not enforce primary keys: the MERGE keeps one row per key.
      if (primaryKey.length > 0) defs.push(`PRIMARY KEY (${primaryKey.map(quoteIdent).join(', ')})`);
      return `CREATE TABLE IF NOT EXISTS ${qualified(snowflakeSyntax, table)} (${defs.join(', ')})`;
    },
    /** Raw tables are TRANSIENT (no Fail-safe, no Time Travel cost) and replaced when created again. */
    createLoadTable(name, columns) {
      const table: QualifiedName = { schema: metaSchema, name };
      const defs = columns.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(', ');
      return { table, sql: `CREATE OR REPLACE TRANSIENT TABLE ${qualified(snowflakeSyntax, table)} (${defs}) DATA_RETENTION_TIME_IN_DAYS = 0` };
    },
    dropTable: (table) => `DROP TABLE IF EXISTS ${qualified(snowflakeSyntax, table)}`,
    listColumns: (table) =>
      `SELECT column_name AS "column_name" FROM information_schema.columns WHERE table_schema = ${quoteString(table.schema)} ` +
      `AND table_name = ${quoteString(table.name)} ORDER BY ordinal_position`,
    listPrimaryKey: (table) => `SHOW PRIMARY KEYS IN TABLE ${qualified(snowflakeSyntax, table)}`,
  };
}

/**
 * The whole dialect for the shared meta-table helpers (watermark table DDL and queries). The
 * Snowflake apply strategy (staged-apply.ts) builds its own MERGE statements; `upsert` here
 * expects `select` to name its columns as the target's.
 */
export function snowflakeDialect(metaSchema: string, metaTable: string): SqlDialect {
  return {
    ...snowflakeTypes,
    ...snowflakeSyntax,
    ...snowflakeDdl(metaSchema, metaTable),
    beginTransaction: 'BEGIN TRANSACTION',
    commit: 'COMMIT',
    rollback: 'ROLLBACK',
    deleteAll: (table) => `DELETE FROM ${qualified(snowflakeSyntax, table)}`,
    upsert(table, columns, key, select) {
      const keys = new Set(key);
      const rest = columns.filter((c) => !keys.has(c));
      const on = key.map((k) => `t.${quoteIdent(k)} = s.${quoteIdent(k)}`).join(' AND ');
      const update = rest.length > 0 ? ` WHEN MATCHED THEN UPDATE SET ${rest.map((c) => `${quoteIdent(c)} = s.${quoteIdent(c)}`).join(', ')}` : '';
      return (
        `MERGE INTO ${qualified(snowflakeSyntax, table)} AS t USING (${select}) AS s ON ${on}${update} ` +
        `WHEN NOT MATCHED THEN INSERT (${columns.map(quoteIdent).join(', ')}) VALUES (${columns.map((c) => `s.${quoteIdent(c)}`).join(', ')})`
      );
    },
    deleteUsing: (table, source, on) => `DELETE FROM ${qualified(snowflakeSyntax, table)} AS t USING ${qualified(snowflakeSyntax, source)} AS s WHERE ${on}`,
    updateFrom: (table, alias, set, from, where) => `UPDATE ${qualified(snowflakeSyntax, table)} AS ${alias} SET ${set.join(', ')} FROM ${from} WHERE ${where}`,
    deleteOne() {
      throw new Error('Snowflake has no row id to delete one of several identical rows');
    },
  };
}
