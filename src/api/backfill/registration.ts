import { DuctError, invalidArgument } from '../../core/errors';
import { startBackfill } from '../../services/backfill/start';
import { cancelBackfill, dbosReader, getBackfill, listBackfills, type BackfillStatus } from '../../services/backfill/status';
import type { ApiContext, ApiServiceRegistration } from '../registration';
import { unary } from '../unary';

interface StartBackfillMessage {
  flow_id: string;
  tables: string[];
  options: Record<string, string>;
}

/** Options of StartBackfill that are flags of the request, not source options. */
const REQUEST_FLAGS = ['resolve_staging', 'resync'] as const;

function flag(options: Record<string, string>, key: string): boolean {
  const v = options[key];
  if (v === undefined || v === '') return false;
  if (/^(true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  throw invalidArgument(`options.${key}`, `"${v}" is not a boolean`, 'use true or false');
}

export function backfillMessage(s: BackfillStatus): Record<string, unknown> {
  return {
    backfill_id: s.backfillId,
    flow_id: s.flowId,
    status: s.status,
    tables: s.tables.map((t) => ({
      table: t.table,
      rows_done: String(t.rowsDone),
      estimated_rows: String(t.estimatedRows ?? -1),
      partitions: t.partitions,
      partitions_done: t.partitionsDone,
      partitioning: t.partitioning,
    })),
    rows_done: String(s.rowsDone),
    estimated_rows: String(s.estimatedRows ?? -1),
    rows_per_second: String(s.rowsPerSecond),
    eta_seconds: String(s.etaSeconds ?? -1),
    snapshot_lsn: s.snapshotLsn,
    consistent: s.consistent,
    started_at: { seconds: String(Math.floor(s.startedAt.getTime() / 1000)), nanos: (s.startedAt.getTime() % 1000) * 1_000_000 },
    error: s.error ?? '',
  };
}

function requireDbos(ctx: ApiContext): void {
  if (!ctx.env.dbosEnabled) {
    throw new DuctError('failed_precondition', 'backfills run on DBOS, which this server has disabled', {
      retry: 'never',
      hint: 'set DUCTSTREAM_DBOS_ENABLED=true, or run ductstream-worker -mode backfill',
    });
  }
}

async function found(id: string, s: Promise<BackfillStatus | null>): Promise<Record<string, unknown>> {
  const status = await s;
  if (!status) throw new DuctError('not_found', `backfill "${id}" does not exist`, { field: 'backfill_id', hint: 'list them with ListBackfills' });
  return backfillMessage(status);
}

/**
 * ductstream.v1.BackfillService: thin handlers over src/services/backfill (the same functions the
 * worker and `ductstream-admin backfill` use). The backfill runs on this server's DBOS executor and
 * on every process listening to the flow's backfill queue.
 */
export const backfillServiceRegistration: ApiServiceRegistration = {
  service: 'ductstream.v1.BackfillService',
  implement: (ctx: ApiContext) => {
    const log = ctx.log.child({ service: 'BackfillService' });
    return {
      StartBackfill: unary(log, 'StartBackfill', async (r: StartBackfillMessage) => {
        requireDbos(ctx);
        if (!r.flow_id) throw invalidArgument('flow_id', 'is required', 'name the flow');
        const options = { ...r.options };
        const input = { tables: r.tables, resolveStaging: flag(options, 'resolve_staging'), resync: flag(options, 'resync'), options };
        for (const k of REQUEST_FLAGS) delete options[k];
        const started = await startBackfill(r.flow_id, input, { tables: 'tables', option: (k) => `options.${k}` });
        return found(started.backfillId, getBackfill(dbosReader, started.backfillId));
      }),
      GetBackfill: unary(log, 'GetBackfill', async (r: { backfill_id: string }) => {
        requireDbos(ctx);
        return found(r.backfill_id, getBackfill(dbosReader, r.backfill_id));
      }),
      ListBackfills: unary(log, 'ListBackfills', async (r: { flow_id: string }) => {
        requireDbos(ctx);
        return { backfills: (await listBackfills(dbosReader, r.flow_id)).map(backfillMessage) };
      }),
      CancelBackfill: unary(log, 'CancelBackfill', async (r: { backfill_id: string }) => {
        requireDbos(ctx);
        if (!(await cancelBackfill(dbosReader, r.backfill_id))) return found(r.backfill_id, Promise.resolve(null));
        return found(r.backfill_id, getBackfill(dbosReader, r.backfill_id));
      }),
    };
  },
};
