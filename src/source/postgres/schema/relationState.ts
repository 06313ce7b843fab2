import { tableKey, type Column, type ReplicaIdentity, type Row, type TableRef, type TableSchema, type Value } from '../../../core/change';
import type { RelationMessage } from '../pgoutput/messages';
import { rowBuilderFor } from '../pgoutput/tuple';
import type { BytesParser } from '../types/bytesParsers';
import { parseText, type TextParser } from '../types/scalars';
import type { TypeRegistry } from '../types/resolver';
import type { RelationCatalogInfo } from './catalog';

/**
 * Everything the decoder needs about one relation, built once per Relation message: the schema
 * handed to destinations and, per column, the parser chosen for its type.
 */
export interface RelationState {
  relationId: number;
  /** Shared by every change of the table (never mutate). */
  ref: TableRef;
  /** `schema.name`, the key of `Batch.schemas`. */
  key: string;
  schema: TableSchema;
  names: string[];
  /** Per column: the value parser, undefined when the text is the value. */
  parsers: Array<TextParser | undefined>;
  /** Per column: the parser that reads the buffer directly, when the type has one. */
  bytesParsers: Array<BytesParser | undefined>;
  /** Builds a complete row in one allocation (see rowBuilderFor). */
  buildRow?: (values: Value[]) => Row;
  /** Indexes of the key columns: the primary key, or the replica identity when there is none. */
  keyIndexes: number[];
  /** Builds the key row from the key columns' values, in `keyIndexes` order (see rowBuilderFor). */
  buildKey?: (values: Value[]) => Row;
  /** Changes of internal tables (DuctStream's own state, DBOS) are dropped, never delivered. */
  internal: boolean;
}

const IDENTITIES: Record<string, ReplicaIdentity> = { d: 'default', n: 'nothing', f: 'full', i: 'index' };

/** Builds the state of a relation; `typeNames` holds names announced by Type messages (fallback). */
export function buildRelationState(
  rel: RelationMessage,
  catalog: RelationCatalogInfo,
  types: TypeRegistry,
  internalSchemas: ReadonlySet<string>,
  typeNames: ReadonlyMap<number, string>,
): RelationState {
  const identityKey = rel.columns.filter((c) => (c.flags & 1) === 1).map((c) => c.name);
  const replicaIdentity = IDENTITIES[rel.replicaIdentity] ?? 'default';
  const names = rel.columns.map((c) => c.name);
  let primaryKey = catalog.primaryKey.filter((n) => names.includes(n));
  if (!catalog.found && primaryKey.length === 0 && replicaIdentity !== 'full') primaryKey = identityKey;
  const parsers: Array<TextParser | undefined> = [];
  const bytesParsers: Array<BytesParser | undefined> = [];
  const columns: Column[] = rel.columns.map((c, i) => {
    const parser = types.parserFor(c.typeOid);
    parsers.push(parser.parse === parseText ? undefined : parser.parse);
    bytesParsers.push(parser.parseBytes);
    const t = catalog.types[i];
    const column: Column = {
      name: c.name,
      pgType: t?.pgType ?? typeNames.get(c.typeOid) ?? `oid:${c.typeOid}`,
      typeOid: c.typeOid,
      typmod: c.typmod,
      formattedType: t?.formattedType ?? typeNames.get(c.typeOid) ?? `oid:${c.typeOid}`,
      nullable: !catalog.notNull.has(c.name),
      valueKind: parser.kind,
    };
    if (parser.elementKind !== undefined) column.elementKind = parser.elementKind;
    const attnum = catalog.attnums?.get(c.name);
    if (attnum !== undefined) column.attnum = attnum;
    return column;
  });
  const keyNames = primaryKey.length > 0 ? primaryKey : identityKey;
  const ref: TableRef = Object.freeze({ schema: rel.schema, name: rel.name });
  const buildRow = rowBuilderFor(names);
  const keyIndexes = keyNames.map((n) => names.indexOf(n)).filter((i) => i >= 0);
  const buildKey = rowBuilderFor(keyIndexes.map((i) => names[i]!));
  return {
    ...(buildRow ? { buildRow } : {}),
    ...(buildKey ? { buildKey } : {}),
    relationId: rel.relationId,
    ref,
    key: tableKey(ref),
    schema: {
      schema: rel.schema,
      name: rel.name,
      relationId: rel.relationId,
      columns,
      primaryKey,
      replicaIdentity,
      ...(catalog.keyDeferrable && primaryKey.length > 0 ? { keyDeferrable: true } : {}),
    },
    names,
    parsers,
    bytesParsers,
    keyIndexes,
    internal: internalSchemas.has(rel.schema),
  };
}

/** True when two schemas describe the same shape (same columns, types, nullability, key, identity). */
export function sameTableSchema(a: TableSchema, b: TableSchema): boolean {
  if (a.schema !== b.schema || a.name !== b.name || a.replicaIdentity !== b.replicaIdentity) return false;
  if (a.primaryKey.join('\u0000') !== b.primaryKey.join('\u0000') || a.columns.length !== b.columns.length) return false;
  if ((a.keyDeferrable ?? false) !== (b.keyDeferrable ?? false)) return false;
  return a.columns.every((c, i) => {
    const d = b.columns[i]!;
    return c.name === d.name && c.typeOid === d.typeOid && c.typmod === d.typmod && c.nullable === d.nullable && c.formattedType === d.formattedType;
  });
}
