import { DBOSClient } from '@dbos-inc/dbos-sdk';
import { systemDatabaseUrlFor } from '../../config/env';
import { DuctError } from '../../core/errors';
import { clientReader, getBackfill, listBackfills, type BackfillStatus } from '../../services/backfill/status';
import { backfillStatusLines } from '../backfillProgress';
import { EXIT_OK } from '../exit';
import { UsageError, type FlagValues } from '../flags';
import type { Command, Subcommand } from './command';
import type { AdminContext } from './context';

const P = 'ductstream-admin backfill';

/** A DBOS client on the system database the flow's processes use (as the worker finds it). */
async function dbosClientFor(ctx: AdminContext, flowId: string): Promise<DBOSClient> {
  const env = ctx.serviceEnv();
  let url = env.dbosSystemDatabaseUrl;
  if (!url) {
    const flow = await (await ctx.appState('to find the flow')).flows.get(flowId);
    if (!flow) throw new DuctError('not_found', `flow "${flowId}" does not exist`, { field: 'flow_id', hint: 'list flows with the API (ListFlows)' });
    url = systemDatabaseUrlFor(env, flow.source.options.dsn!);
  }
  return DBOSClient.create({ systemDatabaseUrl: url, applicationName: env.dbosApp });
}

function statusJson(s: BackfillStatus): Record<string, unknown> {
  return {
    backfill_id: s.backfillId,
    flow_id: s.flowId,
    status: s.status,
    rows_done: s.rowsDone,
    estimated_rows: s.estimatedRows,
    rows_per_second: s.rowsPerSecond,
    eta_seconds: s.etaSeconds,
    snapshot_lsn: s.snapshotLsn,
    consistent: s.consistent,
    started_at: s.startedAt.toISOString(),
    tables: s.tables.map((t) => ({
      table: t.table,
      rows_done: t.rowsDone,
      estimated_rows: t.estimatedRows,
      partitions: t.partitions,
      partitions_done: t.partitionsDone,
      partitioning: t.partitioning,
    })),
    ...(s.error ? { error: s.error } : {}),
  };
}

const status: Subcommand = {
  name: 'status',
  summary: "progress of a flow's backfills (rows done / estimated per table, rows/s, ETA)",
  usage: `usage: ${P} status -flow-id ID [-backfill-id ID] [-all] [-json]

Shows the flow's newest backfill (-all: every one, newest first; -backfill-id: that one): its
DBOS status, per table rows done / estimated (pg_class.reltuples) and partitions done, rows/s,
ETA and the snapshot LSN. Reads the DBOS system database directly; no server has to run.`,
  flags: [
    { name: 'flow-id', type: 'string', placeholder: 'ID', help: 'the flow' },
    { name: 'backfill-id', type: 'string', placeholder: 'ID', help: 'one backfill (default: the newest)' },
    { name: 'all', type: 'bool', help: 'every backfill of the flow' },
    { name: 'json', type: 'bool', help: 'print one JSON document (for scripts)' },
  ],
  fieldFlags: { flow_id: 'flow-id', backfill_id: 'backfill-id' },
  async run(v: FlagValues, ctx: AdminContext) {
    const flowId = v['flow-id'] as string | undefined;
    if (!flowId) throw new UsageError('flag -flow-id is required; name the flow whose backfills to show');
    const client = await dbosClientFor(ctx, flowId);
    try {
      const reader = clientReader(client);
      const wanted = v['backfill-id'] as string | undefined;
      let list: BackfillStatus[];
      if (wanted) {
        const one = await getBackfill(reader, wanted);
        if (!one || one.flowId !== flowId) throw new UsageError(`flag -backfill-id: backfill "${wanted}" of flow "${flowId}" does not exist`);
        list = [one];
      } else {
        list = await listBackfills(reader, flowId, v.all ? 50 : 1);
      }
      if (v.json) ctx.json(v.all ? list.map(statusJson) : list[0] ? statusJson(list[0]) : null);
      else if (list.length === 0) ctx.out(`flow ${flowId} has no backfills`);
      else for (const s of list) ctx.out(backfillStatusLines(s).join('\n'));
      return EXIT_OK;
    } finally {
      await client.destroy();
    }
  },
};

export const backfillCommand: Command = {
  name: 'backfill',
  summary: 'backfill progress',
  description: "Backfills load existing rows (ductstream-worker -mode backfill, or the API's StartBackfill).",
  subcommands: [status],
};
