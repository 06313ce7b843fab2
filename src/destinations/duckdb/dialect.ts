import { qualified, type ColumnDef, type QualifiedName, type SqlDialect } from '../sql/dialect';
import type { CsvColumn } from '../sql/snapshot-file';
import type { LogicalType } from '../sql/types';

/** Schema and table of the watermark table in a DuckDB destination. */
export const DUCKDB_META_TABLE: QualifiedName = { schema: 'ductstream_meta', name: '__metadata' };

function typeName(t: LogicalType): string {
  switch (t.kind) {
    case 'boolean':
      return 'BOOLEAN';
    case 'smallint':
      return 'SMALLINT';
    case 'integer':
      return 'INTEGER';
    case 'bigint':
      return 'BIGINT';
    case 'real':
      return 'REAL';
    case 'double':
      return 'DOUBLE';
    case 'decimal':
      return `DECIMAL(${t.precision},${t.scale})`;
    case 'text':
      return 'VARCHAR';
    case 'blob':
      return 'BLOB';
    case 'json':
      return 'JSON';
    case 'uuid':
      return 'UUID';
    case 'date':
      return 'DATE';
    case 'timestamp':
      return 'TIMESTAMP';
    case 'timestamptz':
      return 'TIMESTAMPTZ';
    case 'time':
      return 'TIME';
    case 'timetz':
      return 'TIMETZ';
    case 'interval':
      return 'INTERVAL';
    case 'lsn':
      return 'UBIGINT';
    case 'list':
      return `${typeName(t.element)}[]`;
  }
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const quoteString = (value: string): string => `'${value.replace(/'/g, "''")}'`;

/** DuckDB (1.5): `INSERT ... ON CONFLICT DO UPDATE`, `DELETE ... USING`, temp tables, `rowid`. */
export const duckdbDialect: SqlDialect = {
  name: 'duckdb',
  maxDecimalPrecision: 38,
  insertFailsOnDuplicateKey: true,
  metaTable: DUCKDB_META_TABLE,
  beginTransaction: 'BEGIN TRANSACTION',
  commit: 'COMMIT',
  rollback: 'ROLLBACK',
  quoteIdent,
  quoteString,
  typeName,
  currentTimestamp: 'current_timestamp',
  nullSafeEquals: (a, b) => `${a} IS NOT DISTINCT FROM ${b}`,
  cast: (expr, type) => `CAST(${expr} AS ${type})`,
  createSchema: (schema) => `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`,
  createTable(table, columns, primaryKey) {
    const defs = columns.map((c: ColumnDef) => `${quoteIdent(c.name)} ${c.type}`);
    if (primaryKey.length > 0) defs.push(`PRIMARY KEY (${primaryKey.map(quoteIdent).join(', ')})`);
    return `CREATE TABLE IF NOT EXISTS ${qualified(this, table)} (${defs.join(', ')})`;
  },
  /** Temp tables live in catalog `temp`; `"temp"."name"` resolves to them. */
  createLoadTable(name, columns) {
    const defs = columns.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(', ');
    return { table: { schema: 'temp', name }, sql: `CREATE OR REPLACE TEMP TABLE ${quoteIdent(name)} (${defs})` };
  },
  dropTable(table) {
    return `DROP TABLE IF EXISTS ${qualified(this, table)}`;
  },
  deleteAll(table) {
    return `DELETE FROM ${qualified(this, table)}`;
  },
  upsert(table, columns, key, select) {
    const keySet = new Set(key);
    const rest = columns.filter((c) => !keySet.has(c));
    const action = rest.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${rest.map((c) => `${quoteIdent(c)} = excluded.${quoteIdent(c)}`).join(', ')}`;
    return `INSERT INTO ${qualified(this, table)} (${columns.map(quoteIdent).join(', ')}) ${select} ON CONFLICT (${key.map(quoteIdent).join(', ')}) ${action}`;
  },
  deleteUsing(table, source, on) {
    return `DELETE FROM ${qualified(this, table)} AS t USING ${qualified(this, source)} AS s WHERE ${on}`;
  },
  updateFrom(table, alias, set, from, where) {
    return `UPDATE ${qualified(this, table)} AS ${alias} SET ${set.join(', ')} FROM ${from} WHERE ${where}`;
  },
  deleteOne(table, source, where) {
    const t = qualified(this, table);
    return `DELETE FROM ${t} WHERE rowid = (SELECT t.rowid FROM ${t} AS t, ${qualified(this, source)} AS s WHERE ${where} LIMIT 1)`;
  },
  listColumns(table) {
    return `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ${quoteString(table.schema)} AND table_name = ${quoteString(table.name)} ORDER BY ordinal_position`;
  },
  /**
   * `read_csv` with every column typed (no sniffing) and quoted empty fields kept as empty strings.
   * Dates and timestamps are read as text and cast here, refusing PostgreSQL's ` BC` suffix (DuckDB's
   * reader would drop it and read the year as AD); JSON is read as text (stored as is).
   */
  readCsvFile(path, columns) {
    const asText = (c: CsvColumn) => c.load.kind === 'date' || c.load.kind === 'timestamp' || c.load.kind === 'timestamptz' || c.load.kind === 'json';
    const types = columns.map((c) => `${quoteString(c.name)}: ${quoteString(asText(c) ? 'VARCHAR' : typeName(c.load))}`).join(', ');
    const exprs = columns.map((c) => {
      const q = quoteIdent(c.name);
      if (!asText(c) || c.load.kind === 'json') return q;
      const bc = quoteString(`column ${c.name}: a BC ${c.load.kind} has no CSV load`);
      return `CASE WHEN suffix(${q}, ' BC') THEN error(${bc}) ELSE CAST(${q} AS ${typeName(c.load)}) END AS ${q}`;
    });
    const options = `columns = {${types}}, header = false, auto_detect = false, delim = ',', quote = '"', escape = '"', nullstr = '', allow_quoted_nulls = false`;
    return `SELECT ${exprs.join(', ')} FROM read_csv(${quoteString(path)}, ${options})`;
  },
  listPrimaryKey(table) {
    return (
      `SELECT unnest(constraint_column_names) AS column_name FROM duckdb_constraints() ` +
      `WHERE constraint_type = 'PRIMARY KEY' AND schema_name = ${quoteString(table.schema)} AND table_name = ${quoteString(table.name)}`
    );
  },
};
