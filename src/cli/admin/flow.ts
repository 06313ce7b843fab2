import { formatBytes as bytes } from '../../core/bytes';
import { DBOSClient } from '@dbos-inc/dbos-sdk';
import { DuctError } from '../../core/errors';
import { probeNow, StatusCollector } from '../../status/collector';
import { flowStatusJson } from '../../status/json';
import type { FlowStatus } from '../../status/model';
import { runHistoryOn, type WorkflowReader } from '../../status/runHistory';
import { statsStoreFor, statusExtensionsFor } from '../../status';
import { clientReader } from '../../services/backfill/status';
import { EXIT_OK } from '../exit';
import type { FlagValues } from '../flags';
import type { Command, Subcommand } from './command';
import type { AdminContext } from './context';
import { flowDelete } from './flowDelete';
import { JSON_FLAG } from './commonFlags';

const P = 'ductstream-admin flow';

const stateOf = (s: FlowStatus) => (s.state === 'running' && s.reason.startsWith('retrying:') ? 'retrying' : s.state);

function listText(all: FlowStatus[]): string {
  const rows = [['FLOW', 'STATE', 'LAG', 'LAG_S', 'ROWS/S', 'ROWS', 'CHECKPOINT', 'ALARMS', 'LAST ERROR']];
  for (const s of all) {
    rows.push([
      s.flowId,
      stateOf(s),
      bytes(s.lagBytes),
      String(s.lagSeconds),
      String(s.rowsPerSecond),
      String(s.rowsTotal),
      s.checkpointLsn ?? '-',
      s.alarms.map((a) => a.kind).join(',') || '-',
      s.lastError || '-',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

function oneText(s: FlowStatus): string {
  const slot = s.slot;
  const lines = [
    `flow            ${s.flowId} (${s.name})`,
    `state           ${stateOf(s)}${s.reason ? ` — ${s.reason}` : ''}`,
    `checkpoint      ${s.checkpointLsn ?? '-'}${s.checkpointAt ? ` at ${s.checkpointAt.toISOString()}` : ''}`,
    `confirmed       ${slot?.confirmedFlushLsn ?? '-'} (slot ${slot?.slot ?? '-'}${slot?.active ? ', active' : ''})`,
    `received        ${s.receivedLsn ?? '-'}`,
    `current WAL     ${slot?.currentWalLsn ?? '-'}`,
    `lag             ${bytes(s.lagBytes)}, ${s.lagSeconds} s`,
    `retained WAL    ${bytes(slot?.retainedWalBytes ?? 0)} (wal_status ${slot?.walStatus || '-'}, safe_wal_size ${slot?.safeWalSize === null || !slot ? 'unlimited' : bytes(slot.safeWalSize)})`,
    `rows            ${s.rowsTotal} (${s.rowsPerSecond}/s)`,
    ...s.rows.map((r) => `  ${r.table} ${r.op}: ${r.rows} (${Math.round(r.rowsPerSecond * 10) / 10}/s)`),
    `retries         ${s.retries}`,
    `last error      ${s.lastError || '-'}${s.lastErrorHint ? ` (${s.lastErrorHint})` : ''}`,
    `heartbeat       ${s.heartbeatLsn ?? '-'}${s.heartbeatAt ? ` at ${s.heartbeatAt.toISOString()}` : ''}`,
    ...(slot?.error ? [`slot error      ${slot.error}`] : []),
    ...s.alarms.map((a) => `ALARM ${a.kind}: ${a.message}`),
    ...s.pendingDdl.map((d) => `ddl event ${d.id} ${d.table} ${d.status}: ${d.ddl}`),
    `runs`,
    ...s.runs.flatMap((r) => [
      `  ${r.runId} ${r.status} ${r.createdAt.toISOString()}${r.error ? ` ${r.error}` : ''}`,
      ...r.steps.map((st) => `    #${st.functionId} ${st.name}${st.error ? ` error: ${st.error}` : ''}`),
    ]),
  ];
  return lines.join('\n');
}

async function collector(ctx: AdminContext): Promise<{ c: StatusCollector; close: () => Promise<void> }> {
  const state = await ctx.appState('to read flow status');
  const env = ctx.serviceEnv();
  let client: DBOSClient | undefined;
  if (env.dbosSystemDatabaseUrl) {
    client = await DBOSClient.create({ systemDatabaseUrl: env.dbosSystemDatabaseUrl, applicationName: env.dbosApp }).catch(() => undefined);
  }
  const runs = client && env.dbosSystemDatabaseUrl ? runHistoryOn(client as unknown as WorkflowReader, env.dbosSystemDatabaseUrl) : null;
  const extensions = statusExtensionsFor(state, client ? clientReader(client) : null);
  const c = new StatusCollector({ flows: state.flows, checkpoints: state.checkpoints, stats: statsStoreFor(state), runs, slots: probeNow, extensions });
  return {
    c,
    close: async () => {
      await runs?.close();
      await client?.destroy();
    },
  };
}

const status: Subcommand = {
  name: 'status',
  summary: "flows' state, LSNs, lag, retained WAL, rows, errors and alarms",
  usage: `usage: ${P} status [-flow-id ID] [-json]

Without -flow-id: one line per flow. With it: the flow's full status, with its recent runs and
their steps (DBOS records). Reads the state database (DUCTSTREAM_POSTGRES_DSN), the source
servers' replication slots and the DBOS system database; no server needs to run.`,
  flags: [{ name: 'flow-id', type: 'string', placeholder: 'ID', help: 'one flow (default: all)' }, JSON_FLAG],
  fieldFlags: { flow_id: 'flow-id' },
  async run(v: FlagValues, ctx) {
    const flowId = v['flow-id'] as string | undefined;
    const { c, close } = await collector(ctx);
    try {
      if (flowId !== undefined) {
        const s = await c.one(flowId);
        if (!s)
          throw new DuctError('not_found', `flow_id: flow "${flowId}" does not exist`, {
            field: 'flow_id',
            hint: 'list flows with `ductstream-admin flow status`',
          });
        if (v.json) ctx.json(flowStatusJson(s));
        else ctx.out(oneText(s));
      } else {
        const all = await c.all();
        if (v.json) ctx.json({ flows: all.map(flowStatusJson) });
        else ctx.out(all.length === 0 ? 'no flows' : listText(all));
      }
      return EXIT_OK;
    } finally {
      await close();
    }
  },
};

export const flowCommand: Command = {
  name: 'flow',
  summary: 'flow status; delete flows (tearing down their slot and publication)',
  description:
    'Shows the status of flows (the same model as GetFlowStatus/ListFlowStatus and the status page) and deletes flows. Create, start and stop flows with ductstream-worker or the gRPC API.',
  subcommands: [status, flowDelete],
};
