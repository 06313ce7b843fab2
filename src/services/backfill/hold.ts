import { DBOS } from '@dbos-inc/dbos-sdk';
import { parseLsn } from '../../core/lsn';
import type { BackfillHold } from '../../pipeline/deps';
import { BACKFILL_WORKFLOW, flowIdOfBackfill, requestOfBackfill } from '../../workflows/backfill/types';
import { ACTIVE_STATUSES } from '../../workflows/activeStatuses';

const CACHE_MS = 1000;
let cache: { at: number; holds: Promise<Map<string, BackfillHold>> } | undefined;

/** Every flow's hold, from one read of the active backfills of all flows (any process). */
async function readHolds(): Promise<Map<string, BackfillHold>> {
  const active = await DBOS.listWorkflows({ workflowName: BACKFILL_WORKFLOW, status: [...ACTIVE_STATUSES], loadOutput: false });
  const holds = new Map<string, { lsn: bigint; tables: Set<string> }>();
  for (const w of active) {
    const flowId = flowIdOfBackfill(w.workflowID);
    const req = requestOfBackfill(w);
    if (flowId === null || !req) continue;
    const at = parseLsn(req.holdLsn);
    const hold = holds.get(flowId);
    if (!hold) holds.set(flowId, { lsn: at, tables: new Set(req.tables) });
    else {
      if (at < hold.lsn) hold.lsn = at;
      for (const t of req.tables) hold.tables.add(t);
    }
  }
  return holds;
}

/**
 * The hold a flow's stream must respect (RunnerDeps.backfillHold): the tables of the flow's active
 * backfills and the lowest of their start positions. Read from DBOS (any process's backfills) for
 * every flow at once and cached for a second, so N streaming flows that look it up per batch cost
 * one DBOS query a second, not N; a backfill's plan waits longer than that before taking its
 * snapshot.
 */
export function backfillHoldOf(flowId: string): Promise<BackfillHold | null> {
  if (!cache || Date.now() - cache.at >= CACHE_MS) {
    const holds = readHolds();
    const entry = { at: Date.now(), holds };
    holds.catch(() => {
      if (cache === entry) cache = undefined;
    });
    cache = entry;
  }
  return cache.holds.then((m) => m.get(flowId) ?? null);
}
