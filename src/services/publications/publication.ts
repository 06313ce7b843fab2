import { tableKey, type TableRef } from '../../core/change';
import { DuctError } from '../../core/errors';
import type { Flow } from '../../core/flow';
import { catalogQueryOf } from '../../source/postgres/catalogQuery';
import { parsePostgresSourceConfig, type PostgresSourceConfig } from '../../source/postgres/config';
import { connectClient, endQuietly } from '../../source/postgres/connect';
import { quoteIdent, quoteTable } from '../../source/postgres/identifiers';
import { internalSchemasOf } from '../../source/postgres/internalSchemas';
import { readPublication } from '../../source/postgres/prepare/publication';
import type { PublicationSyncSpec } from './spec';

/** One table as `publication list` shows it. */
export interface PublicationTableView {
  table: string;
  /** Published now (changes reach the flow's slot). */
  in_publication: boolean;
  /** Named by the flow's publication_tables / publication_schemas (all tables when neither is set). */
  in_flow: boolean;
}

export interface PublicationView {
  flow_id: string;
  publication: string;
  exists: boolean;
  all_tables: boolean;
  tables: PublicationTableView[];
}

async function withSource<T>(config: PostgresSourceConfig, fn: (q: ReturnType<typeof catalogQueryOf>) => Promise<T>): Promise<T> {
  const client = await connectClient(config.dsn, 'source.options.dsn', { applicationName: 'ductstream-publication' });
  try {
    return await fn(catalogQueryOf(client));
  } finally {
    await endQuietly(client);
  }
}

/** Ordinary and partitioned tables of `schemas`, never DuctStream's internal ones. */
async function tablesOfSchemas(q: ReturnType<typeof catalogQueryOf>, schemas: string[], internal: ReadonlySet<string>): Promise<TableRef[]> {
  if (schemas.length === 0) return [];
  const rows = await q<TableRef>(
    `SELECT n.nspname::text AS schema, c.relname::text AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1, 2`,
    [schemas.filter((s) => !internal.has(s))],
  );
  return rows.map((t) => ({ schema: t.schema, name: t.name }));
}

/** The flow's publication: its tables against those the flow names. */
export async function describePublication(flow: Flow): Promise<PublicationView> {
  const config = parsePostgresSourceConfig(flow.source.options, 'source.options');
  return withSource(config, async (q) => {
    const pub = await readPublication(q, config.publication);
    const internal = internalSchemasOf(config);
    const named = config.publicationTables.length + config.publicationSchemas.length > 0;
    const wanted = new Set([...config.publicationTables, ...(await tablesOfSchemas(q, config.publicationSchemas, internal))].map(tableKey));
    const keys = new Set([...pub.tables.map(tableKey), ...wanted]);
    const published = new Set(pub.tables.map(tableKey));
    return {
      flow_id: flow.id,
      publication: config.publication,
      exists: pub.exists,
      all_tables: pub.allTables,
      tables: [...keys].sort().map((k) => ({ table: k, in_publication: published.has(k), in_flow: !named || wanted.has(k) })),
    };
  });
}

/** What a sync changes: tables to add and (mode sync) to drop. */
export interface PublicationDiff {
  add: TableRef[];
  drop: TableRef[];
}

export async function diffPublication(flow: Flow, spec: PublicationSyncSpec): Promise<PublicationDiff> {
  const config = parsePostgresSourceConfig(flow.source.options, 'source.options');
  return withSource(config, async (q) => {
    const pub = await readPublication(q, config.publication);
    if (!pub.exists)
      throw new DuctError('failed_precondition', `publication ${config.publication} does not exist`, {
        retry: 'never',
        hint: 'run the flow once to create it',
      });
    if (pub.allTables)
      throw new DuctError('failed_precondition', `publication ${config.publication} is FOR ALL TABLES: every table is published already`, { retry: 'never' });
    const internal = internalSchemasOf(config);
    const desired = spec.tables.length > 0 ? spec.tables : await tablesOfSchemas(q, spec.schemas, internal);
    if (spec.tables.length > 0) {
      const found = await q<{ n: number }>(
        `SELECT count(*)::int AS n FROM unnest($1::text[], $2::text[]) AS t(s, n) JOIN pg_catalog.pg_namespace ns ON ns.nspname = t.s
           JOIN pg_catalog.pg_class c ON c.relnamespace = ns.oid AND c.relname = t.n AND c.relkind IN ('r', 'p')`,
        [spec.tables.map((t) => t.schema), spec.tables.map((t) => t.name)],
      );
      if (found[0]!.n !== spec.tables.length)
        throw new DuctError('invalid_argument', 'tables: a listed table does not exist', { field: 'tables', hint: 'create it first, or fix its name' });
    }
    const have = new Set(pub.tables.map(tableKey));
    const want = new Set(desired.map(tableKey));
    return { add: desired.filter((t) => !have.has(tableKey(t))), drop: spec.mode === 'sync' ? pub.tables.filter((t) => !want.has(tableKey(t))) : [] };
  });
}

/** ALTER PUBLICATION for the diff; idempotent (re-reads the publication, adds only what is missing). */
export async function alterPublication(flow: Flow, diff: PublicationDiff): Promise<PublicationDiff> {
  const config = parsePostgresSourceConfig(flow.source.options, 'source.options');
  return withSource(config, async (q) => {
    const have = new Set((await readPublication(q, config.publication)).tables.map(tableKey));
    const add = diff.add.filter((t) => !have.has(tableKey(t)));
    const drop = diff.drop.filter((t) => have.has(tableKey(t)));
    const name = quoteIdent(config.publication);
    if (add.length > 0) await q(`ALTER PUBLICATION ${name} ADD TABLE ${add.map(quoteTable).join(', ')}`);
    if (drop.length > 0) await q(`ALTER PUBLICATION ${name} DROP TABLE ${drop.map(quoteTable).join(', ')}`);
    return { add, drop };
  });
}

/** The flow with the synced tables or schemas recorded in its options, so `sync_publication` at its next start agrees. */
export function withSyncedOptions(flow: Flow, spec: PublicationSyncSpec): Flow {
  const o = { ...flow.source.options };
  const merge = (key: string, items: string[]) => {
    const current = (o[key] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const next = spec.mode === 'sync' ? items : [...new Set([...current, ...items])];
    o[key] = next.join(',');
  };
  if (spec.tables.length > 0) merge('publication_tables', spec.tables.map(tableKey));
  if (spec.schemas.length > 0) merge('publication_schemas', spec.schemas);
  // In sync mode the list given is the whole publication: the other option would add tables back.
  if (spec.mode === 'sync') delete o[spec.tables.length > 0 ? 'publication_schemas' : 'publication_tables'];
  return { ...flow, source: { ...flow.source, options: o } };
}
