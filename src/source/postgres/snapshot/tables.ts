import { tableKey, type TableRef } from '../../../core/change';
import { invalidArgument } from '../../../core/errors';
import type { Logger } from '../../../core/log';
import type { CatalogQuery } from '../catalogQuery';
import type { PostgresSourceConfig } from '../config';
import { internalSchemasOf } from '../internalSchemas';
import { desiredTables, readPublication } from '../prepare/publication';

/** A table to backfill, as found in the catalog when the backfill was planned. */
export interface SnapshotTable {
  table: TableRef;
  /** `pg_class.reltuples`; null when the table was never analyzed. */
  estimatedRows: number | null;
  /** Size in blocks (`pg_relation_size / block_size`) when planned. */
  blocks: number;
  /** Column names in attribute order. */
  columns: string[];
  /** Columns declared NOT NULL. */
  notNullColumns: string[];
  /** Integer columns (int2, int4, int8): a partition column among them is split by range. */
  integerColumns?: string[];
  /** min and max of an integer partition column (decimal text) when planned; absent: hash partitions. */
  range?: { min: string; max: string };
}

/** Which option or flag carries the tables and the partition column, for error messages. */
export interface SnapshotFields {
  tables: string;
  partitionColumn: string;
}

interface TableRow {
  oid: number;
  schema: string;
  name: string;
  reltuples: number;
  blocks: number;
  columns: string[];
  not_null: string[];
  integers: string[];
}

/**
 * The tables of a backfill, checked against the catalog and the flow's publication: each must
 * exist, be a table and be published by the flow (or be about to be, when the publication does not
 * exist yet), and have `partitionColumn` when one is set. Without `requested`, every table of the
 * publication. Errors are `invalid_argument` naming `fields`.
 */
export async function resolveSnapshotTables(
  query: CatalogQuery,
  config: PostgresSourceConfig,
  requested: TableRef[] | undefined,
  partitionColumn: string | undefined,
  fields: SnapshotFields,
  log: Logger,
): Promise<SnapshotTable[]> {
  const internal = internalSchemasOf(config);
  const publication = await readPublication(query, config.publication);
  let published: TableRef[] | undefined;
  if (publication.exists) published = publication.tables;
  else published = await desiredTables(query, config, internal, log);
  const wanted = requested ?? published;
  if (wanted === undefined) {
    // A FOR ALL TABLES publication that does not exist yet: every user table.
    const all = await query<TableRef>(
      `SELECT n.nspname::text AS schema, c.relname::text AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2`,
    );
    return resolveSnapshotTables(
      query,
      config,
      all.filter((t) => !internal.has(t.schema)),
      partitionColumn,
      fields,
      log,
    );
  }
  if (wanted.length === 0) {
    throw invalidArgument(fields.tables, `publication ${config.publication} has no tables to backfill`, 'name the tables, e.g. -tables public.users');
  }
  const publishedKeys = published === undefined ? undefined : new Set(published.map(tableKey));
  const out: SnapshotTable[] = [];
  const seen = new Set<string>();
  for (const t of wanted) {
    const key = tableKey(t);
    if (seen.has(key)) continue;
    seen.add(key);
    const rows = await query<TableRow>(
      `SELECT c.oid::int8::float8 AS oid, n.nspname::text AS schema, c.relname::text AS name, c.reltuples::float8 AS reltuples,
              (pg_catalog.pg_relation_size(c.oid) / current_setting('block_size')::int)::float8 AS blocks,
              ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns,
              ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull) AS not_null,
              ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                       AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)) AS integers
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
      [t.schema, t.name],
    );
    const row = rows[0];
    if (!row)
      throw invalidArgument(fields.tables, `table ${key} does not exist in the source database`, 'check the name (schema.table), or create the table first');
    if (internal.has(t.schema)) throw invalidArgument(fields.tables, `${key} is one of DuctStream's own tables`, 'backfill user tables only');
    if (publishedKeys && !publishedKeys.has(key)) {
      throw invalidArgument(
        fields.tables,
        `table ${key} is not in publication ${config.publication}, so its changes would not follow the backfill`,
        `add it first (ductstream-admin publication sync -tables ${key}, or ALTER PUBLICATION ${config.publication} ADD TABLE ${key})`,
      );
    }
    if (partitionColumn !== undefined && !row.columns.includes(partitionColumn)) {
      throw invalidArgument(fields.partitionColumn, `column "${partitionColumn}" does not exist in table ${key}`, `use one of: ${row.columns.join(', ')}`);
    }
    out.push({
      table: { schema: row.schema, name: row.name },
      estimatedRows: row.reltuples < 0 ? null : Math.round(row.reltuples),
      blocks: Math.max(0, Math.ceil(row.blocks)),
      columns: row.columns,
      notNullColumns: row.not_null,
      integerColumns: row.integers,
    });
  }
  return out;
}
