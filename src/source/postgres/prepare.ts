import type { TableRef } from '../../core/change';
import { DuctError, isDuctError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { Lsn } from '../../core/lsn';
import { catalogQueryOf } from './catalogQuery';
import type { PostgresSourceConfig } from './config';
import { connectClient, endQuietly } from './connect';
import { isConnectionLoss } from './errors';
import { internalSchemasOf } from './internalSchemas';
import { ensurePublication } from './prepare/publication';
import { validateReplicationSettings } from './prepare/replicationSettings';
import { ensureSlot } from './prepare/slot';
import { upsertSourceState } from './prepare/sourceState';
import { lookupSlot } from './stream/slotInfo';

export interface PrepareDeps {
  flowId: string;
  log: Logger;
}

export interface PrepareResult {
  slot: string;
  publication: string;
  slotCreated: boolean;
  publicationCreated: boolean;
  /** The slot's confirmed_flush_lsn: where streaming resumes without a checkpoint (null before the slot exists). */
  confirmedFlushLsn: Lsn | null;
  restartLsn: Lsn | null;
  /** True for a FOR ALL TABLES publication. */
  allTables: boolean;
  /** The publication's tables after preparation. */
  tables: TableRef[];
  /** Tables `sync_publication` added (they need a snapshot) and dropped. */
  addedTables: TableRef[];
  droppedTables: TableRef[];
}

/**
 * Prepares the source database for a flow; idempotent, so every flow run calls it first:
 * 1. `validate_replication`: wal_level=logical, max_replication_slots > 0 (and a free one when the
 *    slot must be created), max_wal_senders > 0, replication privilege → `failed_precondition`
 *    (retry never) naming the setting and the fix;
 * 2. `ensure_publication` / `sync_publication`: create the publication (FOR TABLE
 *    publication_tables ∪ tables of publication_schemas, or FOR ALL TABLES when neither is set;
 *    never DuctStream's own schemas — a FOR ALL TABLES publication covers them too, and the
 *    source drops their changes), or add/drop tables;
 * 3. `create_slot`: create the pgoutput slot when missing (after the publication, so decoding
 *    from the slot's start always finds it);
 * 4. `ensure_state`: upsert the flow's record in `state_schema.state_table` of the source database.
 * An unreachable DSN is `unavailable` (transient) naming `source.options.dsn`, password masked.
 */
export async function preparePostgresSource(config: PostgresSourceConfig, deps: PrepareDeps): Promise<PrepareResult> {
  const log = deps.log.child({ slot: config.slot, publication: config.publication });
  const client = await connectClient(config.dsn, 'source.options.dsn', { applicationName: `ductstream-prepare:${deps.flowId}`.slice(0, 63) });
  const query = catalogQueryOf(client);
  try {
    const internal = internalSchemasOf(config);
    if (config.validateReplication) {
      const existing = await lookupSlot(query, config.slot);
      await validateReplicationSettings(query, { needFreeSlot: !existing.exists && config.createSlot });
    }
    const publication = await ensurePublication(query, config, internal, log);
    const slot = await ensureSlot(query, config.slot, config.createSlot, log);
    if (config.ensureState) {
      await upsertSourceState(query, config.stateSchema, config.stateTable, {
        flowId: config.flowId ?? deps.flowId,
        slot: config.slot,
        publication: config.publication,
        tables: publication.tables,
        lastAckedLsn: slot.confirmedFlushLsn,
      });
    }
    return {
      slot: config.slot,
      publication: config.publication,
      slotCreated: slot.created,
      publicationCreated: publication.created,
      confirmedFlushLsn: slot.confirmedFlushLsn,
      restartLsn: slot.restartLsn,
      allTables: publication.allTables,
      tables: publication.tables,
      addedTables: publication.added,
      droppedTables: publication.dropped,
    };
  } catch (e) {
    if (isDuctError(e)) throw e;
    const reason = e instanceof Error ? e.message : String(e);
    if (isConnectionLoss(e))
      throw new DuctError('unavailable', `preparing the source lost its connection: ${reason}`, { retry: 'transient', field: 'source.options.dsn', cause: e });
    throw new DuctError('source_failed', `preparing the source failed: ${reason}`, { retry: 'transient', cause: e });
  } finally {
    await endQuietly(client);
  }
}
