import { tableKey, type TableRef } from '../../../core/change';
import { DuctError, invalidArgument } from '../../../core/errors';
import type { Logger } from '../../../core/log';
import type { CatalogQuery } from '../catalogQuery';
import type { PostgresSourceConfig } from '../config';
import { quoteIdent, quoteTable } from '../identifiers';

export interface PublicationState {
  exists: boolean;
  allTables: boolean;
  /** Tables listed in the publication (explicit members; every table for FOR ALL TABLES). */
  tables: TableRef[];
}

export interface PublicationOutcome extends PublicationState {
  created: boolean;
  added: TableRef[];
  dropped: TableRef[];
}

type Field = 'publication_tables' | 'publication_schemas';

export async function readPublication(query: CatalogQuery, name: string): Promise<PublicationState> {
  const pubs = await query<{ puballtables: boolean }>(`SELECT puballtables FROM pg_catalog.pg_publication WHERE pubname = $1`, [name]);
  if (pubs.length === 0) return { exists: false, allTables: false, tables: [] };
  const allTables = pubs[0]!.puballtables;
  const tables = allTables
    ? await query<TableRef>(
        `SELECT schemaname::text AS schema, tablename::text AS name FROM pg_catalog.pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2`,
        [name],
      )
    : await query<TableRef>(
        `SELECT n.nspname::text AS schema, c.relname::text AS name
         FROM pg_catalog.pg_publication_rel pr
         JOIN pg_catalog.pg_publication p ON p.oid = pr.prpubid
         JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE p.pubname = $1 ORDER BY 1, 2`,
        [name],
      );
  return { exists: true, allTables, tables: tables.map((t) => ({ schema: t.schema, name: t.name })) };
}

/**
 * The tables the options ask for: `publication_tables` (each must exist) plus every table of
 * `publication_schemas`, never one of DuctStream's internal schemas. Undefined when neither
 * option is set (meaning: all tables).
 */
export async function desiredTables(
  query: CatalogQuery,
  config: PostgresSourceConfig,
  internalSchemas: ReadonlySet<string>,
  log: Logger,
): Promise<TableRef[] | undefined> {
  if (config.publicationTables.length === 0 && config.publicationSchemas.length === 0) return undefined;
  const out = new Map<string, TableRef>();
  for (const t of await listedTables(query, config.publicationTables, internalSchemas, log)) out.set(tableKey(t), t);
  for (const t of await tablesOfSchemas(query, config.publicationSchemas, internalSchemas, log)) out.set(tableKey(t), t);
  return [...out.values()];
}

const field = (f: Field): string => `source.options.${f}`;

/** `publication_tables`, each checked to be an existing table; internal ones are left out with a warning. */
async function listedTables(query: CatalogQuery, listed: TableRef[], internalSchemas: ReadonlySet<string>, log: Logger): Promise<TableRef[]> {
  if (listed.length === 0) return [];
  const found = await query<{ idx: number; exists: boolean; kind: string | null }>(
    `SELECT t.idx::int AS idx, c.oid IS NOT NULL AS exists, c.relkind::text AS kind
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(schema, name, idx)
       LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = t.schema
       LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.name`,
    [listed.map((t) => t.schema), listed.map((t) => t.name)],
  );
  const out: TableRef[] = [];
  for (const row of found) {
    const t = listed[row.idx - 1]!;
    if (!row.exists)
      throw invalidArgument(field('publication_tables'), `table ${tableKey(t)} does not exist`, 'create the table first, or remove it from publication_tables');
    if (row.kind !== 'r' && row.kind !== 'p')
      throw invalidArgument(field('publication_tables'), `${tableKey(t)} is not a table`, 'list only ordinary or partitioned tables');
    if (internalSchemas.has(t.schema)) {
      log.warn('ignoring an internal table listed in publication_tables', { table: tableKey(t) });
      continue;
    }
    out.push(t);
  }
  return out;
}

/** Every ordinary or partitioned (root) table of `publication_schemas`, which must exist; internal schemas are left out with a warning. */
async function tablesOfSchemas(query: CatalogQuery, listed: string[], internalSchemas: ReadonlySet<string>, log: Logger): Promise<TableRef[]> {
  const schemas = listed.filter((s) => {
    if (!internalSchemas.has(s)) return true;
    log.warn('ignoring an internal schema listed in publication_schemas', { schema: s });
    return false;
  });
  if (schemas.length === 0) return [];
  const known = await query<{ nspname: string }>(`SELECT nspname::text AS nspname FROM pg_catalog.pg_namespace WHERE nspname = ANY($1::text[])`, [schemas]);
  const missing = schemas.filter((s) => !known.some((k) => k.nspname === s));
  if (missing.length > 0)
    throw invalidArgument(
      field('publication_schemas'),
      `schema ${missing[0]} does not exist`,
      'create the schema first, or remove it from publication_schemas',
    );
  const rows = await query<TableRef>(
    `SELECT n.nspname::text AS schema, c.relname::text AS name
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      ORDER BY 1, 2`,
    [schemas],
  );
  return rows.map((t) => ({ schema: t.schema, name: t.name }));
}

function tableList(tables: TableRef[]): string {
  return tables.map(quoteTable).join(', ');
}

function describeDdlError(e: unknown, what: string): DuctError {
  const code = (e as { code?: string }).code;
  const reason = e instanceof Error ? e.message : String(e);
  if (code === '42501') {
    return new DuctError('failed_precondition', `${what}: permission denied: ${reason}`, {
      retry: 'never',
      hint: 'run it as the owner of the tables (FOR ALL TABLES needs a superuser), or create the publication yourself and set ensure_publication=false',
    });
  }
  return new DuctError('source_failed', `${what}: ${reason}`, { retry: 'transient', cause: e });
}

/**
 * Makes the publication exist (when `ensure_publication`) and, with `sync_publication`, adds the
 * desired tables that are missing (mode `add`) and drops the extra ones (mode `sync`). Idempotent.
 */
export async function ensurePublication(
  query: CatalogQuery,
  config: PostgresSourceConfig,
  internalSchemas: ReadonlySet<string>,
  log: Logger,
): Promise<PublicationOutcome> {
  const state = await readPublication(query, config.publication);
  if (!state.exists) return { ...(await createPublication(query, config, internalSchemas, log)), added: [], dropped: [] };
  if (config.syncPublication) return { ...(await syncPublication(query, config, state, internalSchemas, log)), created: false };
  return { ...state, created: false, added: [], dropped: [] };
}

/** Creates the missing publication for the desired tables (all tables when none are named); refused without `ensure_publication`. */
async function createPublication(
  query: CatalogQuery,
  config: PostgresSourceConfig,
  internalSchemas: ReadonlySet<string>,
  log: Logger,
): Promise<PublicationState & { created: boolean }> {
  const name = config.publication;
  if (!config.ensurePublication) {
    throw new DuctError('failed_precondition', `publication ${name} does not exist`, {
      retry: 'never',
      field: 'source.options.publication',
      hint: `set ensure_publication=true, or run CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ...`,
    });
  }
  const tables = await desiredTables(query, config, internalSchemas, log);
  const target = tables === undefined ? 'FOR ALL TABLES' : tables.length > 0 ? `FOR TABLE ${tableList(tables)}` : '';
  if (tables !== undefined && tables.length === 0)
    log.warn('creating an empty publication: no table matched publication_tables/publication_schemas', { publication: name });
  let created = false;
  try {
    await query(`CREATE PUBLICATION ${quoteIdent(name)} ${target}`);
    created = true;
    log.info('created publication', { publication: name, tables: tables === undefined ? 'ALL' : tables.map(tableKey).join(',') });
  } catch (e) {
    if ((e as { code?: string }).code !== '42710') throw describeDdlError(e, `creating publication ${name}`); // 42710: created concurrently
  }
  return { ...(await readPublication(query, name)), created };
}

/** Adds the desired tables the publication lacks and, in mode `sync`, drops the ones it should not have. */
async function syncPublication(
  query: CatalogQuery,
  config: PostgresSourceConfig,
  state: PublicationState,
  internalSchemas: ReadonlySet<string>,
  log: Logger,
): Promise<PublicationState & { added: TableRef[]; dropped: TableRef[] }> {
  const name = config.publication;
  const unchanged = { ...state, added: [], dropped: [] };
  const tables = await desiredTables(query, config, internalSchemas, log);
  if (tables === undefined) {
    log.warn('sync_publication is set but neither publication_tables nor publication_schemas is: nothing to sync', { publication: name });
    return unchanged;
  }
  if (state.allTables) {
    log.warn('sync_publication skipped: the publication is FOR ALL TABLES', { publication: name });
    return unchanged;
  }
  const have = new Set(state.tables.map(tableKey));
  const want = new Set(tables.map(tableKey));
  const added = tables.filter((t) => !have.has(tableKey(t)));
  const dropped = config.syncPublicationMode === 'sync' ? state.tables.filter((t) => !want.has(tableKey(t))) : [];
  if (added.length + dropped.length === 0) return unchanged;
  try {
    if (added.length > 0) await query(`ALTER PUBLICATION ${quoteIdent(name)} ADD TABLE ${tableList(added)}`);
    if (dropped.length > 0) await query(`ALTER PUBLICATION ${quoteIdent(name)} DROP TABLE ${tableList(dropped)}`);
  } catch (e) {
    throw describeDdlError(e, `syncing publication ${name}`);
  }
  log.info('synced publication', { publication: name, added: added.map(tableKey).join(','), dropped: dropped.map(tableKey).join(',') });
  return { ...(await readPublication(query, name)), added, dropped };
}
