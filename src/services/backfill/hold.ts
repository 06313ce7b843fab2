import { parseLsn } from '../../core/lsn';
import type { BackfillHold } from '../../pipeline/deps';
import type { BackfillRequest } from '../../workflows/backfill/types';
import { activeBackfills } from './start';

const CACHE_MS = 1000;
const cache = new Map<string, { at: number; hold: Promise<BackfillHold | null> }>();

/**
 * The hold a flow's stream must respect (RunnerDeps.backfillHold): the tables of the flow's active
 * backfills and the lowest of their start positions. Read from DBOS (any process's backfills),
 * cached for a second; a backfill's plan waits longer than that before taking its snapshot.
 */
export function backfillHoldOf(flowId: string): Promise<BackfillHold | null> {
  const hit = cache.get(flowId);
  if (hit && Date.now() - hit.at < CACHE_MS) return hit.hold;
  const hold = (async (): Promise<BackfillHold | null> => {
    const active = await activeBackfills(flowId);
    let lsn: bigint | null = null;
    const tables = new Set<string>();
    for (const w of active) {
      const req = Array.isArray(w.input) ? (w.input[0] as BackfillRequest | undefined) : undefined;
      if (!req) continue;
      const at = parseLsn(req.holdLsn);
      if (lsn === null || at < lsn) lsn = at;
      for (const t of req.tables) tables.add(t);
    }
    return lsn === null ? null : { lsn, tables };
  })();
  hold.catch(() => cache.delete(flowId));
  cache.set(flowId, { at: Date.now(), hold });
  return hold;
}
