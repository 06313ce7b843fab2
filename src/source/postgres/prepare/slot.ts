import { DuctError } from '../../../core/errors';
import type { Logger } from '../../../core/log';
import type { CatalogQuery } from '../catalogQuery';
import { checkSlotUsable, lookupSlot, type SlotInfo } from '../stream/slotInfo';

export interface SlotOutcome extends SlotInfo {
  created: boolean;
}

/**
 * Makes the pgoutput slot exist: creates it when missing and `createSlot` is set (a slot created
 * concurrently by another process counts as existing), otherwise fails with how to fix it. An
 * existing slot must be a pgoutput slot of this database.
 */
export async function ensureSlot(query: CatalogQuery, slot: string, createSlot: boolean, log: Logger): Promise<SlotOutcome> {
  let info = await lookupSlot(query, slot);
  let created = false;
  if (!info.exists) {
    if (!createSlot) {
      throw new DuctError('failed_precondition', `replication slot ${slot} does not exist and create_slot=false`, {
        retry: 'never',
        field: 'source.options.slot',
        hint: `set create_slot=true, or run SELECT pg_create_logical_replication_slot('${slot}', 'pgoutput')`,
      });
    }
    try {
      await query(`SELECT pg_catalog.pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
      created = true;
      log.info('created replication slot', { slot });
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code !== '42710') {
        // 42710: created concurrently
        const reason = e instanceof Error ? e.message : String(e);
        // 53400: no free slot; 55000: e.g. wal_level below logical; 42501: no replication privilege.
        const permanent = code === '53400' || code === '55000' || code === '42501';
        throw new DuctError(permanent ? 'failed_precondition' : 'source_failed', `creating replication slot ${slot} failed: ${reason}`, {
          retry: permanent ? 'never' : 'transient',
          hint: code === '53400' ? 'drop unused slots or raise max_replication_slots' : code === '42501' ? 'grant the role REPLICATION' : undefined,
          cause: e,
        });
      }
    }
    info = await lookupSlot(query, slot);
  }
  checkSlotUsable(info, slot);
  return { ...info, created };
}
