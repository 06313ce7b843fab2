import type { CatalogQuery } from '../catalogQuery';
import type { RelationMessage } from '../pgoutput/messages';

/** What the catalog adds to a Relation message: nullability, the primary key, type names. */
export interface RelationCatalogInfo {
  /** False when the table no longer exists (dropped since the change was written). */
  found: boolean;
  notNull: Set<string>;
  /** `pg_attribute.attnum` by column name (identifies a column across renames). */
  attnums?: Map<string, number>;
  /** Primary key column names in key order; empty when none. */
  primaryKey: string[];
  /** True when the primary key constraint is DEFERRABLE (rows may share a key inside a transaction). */
  keyDeferrable?: boolean;
  /** Per Relation column (same order): `pg_type.typname` (schema-qualified outside pg_catalog) and `format_type`. */
  types: Array<{ pgType: string; formattedType: string } | undefined>;
}

interface AttributeRow {
  attname: string;
  attnum: number;
  attnotnull: boolean;
  pk_pos: number | null;
  pk_deferrable: boolean | null;
}

interface TypeRow {
  ord: number;
  formatted: string | null;
  typname: string | null;
  nspname: string | null;
}

/**
 * Reads the catalog for a Relation message. Column types come from the message itself (the shape
 * at the change's position in the stream); the table's current catalog supplies the primary key
 * (also under REPLICA IDENTITY FULL) and NOT NULL flags, matched by column name.
 */
export async function loadRelationCatalog(query: CatalogQuery, rel: RelationMessage): Promise<RelationCatalogInfo> {
  const attrs = await query<AttributeRow>(
    `SELECT a.attname::text AS attname, a.attnum::int AS attnum, a.attnotnull,
            (SELECT array_position(i.indkey::int2[], a.attnum) FROM pg_catalog.pg_index i
              WHERE i.indrelid = a.attrelid AND i.indisprimary) AS pk_pos,
            (SELECT c.condeferrable FROM pg_catalog.pg_constraint c
              WHERE c.conrelid = a.attrelid AND c.contype = 'p') AS pk_deferrable
       FROM pg_catalog.pg_attribute a
      WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped`,
    [rel.relationId],
  );
  const types = await query<TypeRow>(
    `SELECT c.ord::int AS ord, pg_catalog.format_type(c.oid, c.typmod) AS formatted,
            t.typname::text AS typname, n.nspname::text AS nspname
       FROM unnest($1::oid[], $2::int4[]) WITH ORDINALITY AS c(oid, typmod, ord)
       LEFT JOIN pg_catalog.pg_type t ON t.oid = c.oid
       LEFT JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace`,
    [rel.columns.map((c) => c.typeOid), rel.columns.map((c) => c.typmod)],
  );
  const notNull = new Set<string>();
  const attnums = new Map<string, number>();
  const pk: Array<[number, string]> = [];
  for (const a of attrs) {
    if (a.attnotnull) notNull.add(a.attname);
    attnums.set(a.attname, a.attnum);
    if (a.pk_pos !== null) pk.push([a.pk_pos, a.attname]);
  }
  pk.sort((x, y) => x[0] - y[0]);
  const byOrd: RelationCatalogInfo['types'] = new Array<RelationCatalogInfo['types'][number]>(rel.columns.length).fill(undefined);
  for (const t of types) {
    if (t.typname === null || t.formatted === null) continue;
    const pgType = t.nspname === 'pg_catalog' || t.nspname === null ? t.typname : `${t.nspname}.${t.typname}`;
    byOrd[t.ord - 1] = { pgType, formattedType: t.formatted };
  }
  const keyDeferrable = attrs.some((a) => a.pk_deferrable === true);
  return { found: attrs.length > 0, notNull, attnums, primaryKey: pk.map(([, n]) => n), keyDeferrable, types: byOrd };
}
