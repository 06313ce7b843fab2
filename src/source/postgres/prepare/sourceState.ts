import { tableKey, type TableRef } from '../../../core/change';
import { formatLsn, type Lsn } from '../../../core/lsn';
import type { CatalogQuery } from '../catalogQuery';
import { quoteIdent } from '../identifiers';

export interface SourceStateRecord {
  flowId: string;
  slot: string;
  publication: string;
  tables: TableRef[];
  lastAckedLsn: Lsn | null;
}

/** Runs DDL that may race with another process doing the same (IF NOT EXISTS is not atomic). */
async function idempotentDdl(query: CatalogQuery, sql: string): Promise<void> {
  try {
    await query(sql);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== '23505' && code !== '42P07' && code !== '42P06') throw e;
  }
}

/**
 * Creates `schema.table` in the source database (when missing) and upserts the flow's record:
 * which slot and publication it uses, its tables, and the slot's confirmed position. It is for
 * cleanup (find the slots a flow left behind) and auditing; streaming never reads it.
 */
export async function upsertSourceState(query: CatalogQuery, schema: string, table: string, rec: SourceStateRecord): Promise<void> {
  const qt = `${quoteIdent(schema)}.${quoteIdent(table)}`;
  await idempotentDdl(query, `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  await idempotentDdl(
    query,
    `CREATE TABLE IF NOT EXISTS ${qt} (
      flow_id text NOT NULL,
      slot text NOT NULL,
      publication text NOT NULL,
      tables text[] NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      last_acked_lsn pg_lsn,
      PRIMARY KEY (flow_id, slot))`,
  );
  await query(
    `INSERT INTO ${qt} AS s (flow_id, slot, publication, tables, last_acked_lsn)
     VALUES ($1, $2, $3, $4::text[], $5::pg_lsn)
     ON CONFLICT (flow_id, slot) DO UPDATE
       SET publication = EXCLUDED.publication, tables = EXCLUDED.tables, updated_at = now(),
           last_acked_lsn = GREATEST(s.last_acked_lsn, EXCLUDED.last_acked_lsn)`,
    [rec.flowId, rec.slot, rec.publication, rec.tables.map(tableKey), rec.lastAckedLsn === null ? null : formatLsn(rec.lastAckedLsn)],
  );
}
