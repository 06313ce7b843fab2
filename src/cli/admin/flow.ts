import { DuctError } from '../../core/errors';
import { listSlots, type SlotView } from '../../services/teardown/slots';
import { FlowService } from '../../services/flows/service';
import { EXIT_OK } from '../exit';
import { UsageError } from '../flags';
import type { Command, Subcommand } from './command';

const JSON_FLAG = { name: 'json', type: 'bool' as const, help: 'print JSON (for scripts)' };

const del: Subcommand = {
  name: 'delete',
  summary: 'delete a flow, its checkpoint, DDL events and source-state record (and its slot/publication)',
  usage: `usage: ductstream-admin flow delete -flow-id ID [-drop-slot] [-drop-publication] [-json]

Deletes the flow. Without -drop-slot its replication slot stays and keeps holding WAL on the source:
\`slots list\` shows it as an orphan. The flow is stopped first, so a worker running it ends after its
current batch and releases the slot; a slot still in use after 15 s fails the command and deletes
nothing. -drop-publication is refused while another flow uses the publication.`,
  flags: [
    { name: 'flow-id', type: 'string', placeholder: 'ID', help: 'the flow to delete' },
    { name: 'drop-slot', type: 'bool', help: "also drop the flow's replication slot" },
    { name: 'drop-publication', type: 'bool', help: "also drop the flow's publication" },
    JSON_FLAG,
  ],
  fieldFlags: { flow_id: 'flow-id', drop_publication: 'drop-publication' },
  async run(v, ctx) {
    const flowId = v['flow-id'] as string | undefined;
    if (!flowId) throw new UsageError('flag -flow-id: is required; pass the flow to delete');
    const state = await ctx.appState('to find the flow');
    const flow = await state.flows.get(flowId);
    if (!flow) throw new UsageError(`flag -flow-id: flow "${flowId}" does not exist`);
    const dropSlot = v['drop-slot'] === true;
    const dropPublication = v['drop-publication'] === true;
    const env = ctx.serviceEnv();
    const service = new FlowService({
      store: state.flows,
      validation: { serviceWireFormat: env.wireFormat, enforceWireFormat: env.wireEnforce },
      runs: null,
      startRunKind: 'stream',
      checkpoints: state.checkpoints,
      ...(state.ddl ? { ddl: state.ddl } : {}),
    });
    let result;
    try {
      result = await service.delete(flowId, { dropSlot, dropPublication });
    } catch (e) {
      if (e instanceof DuctError && e.field === 'drop_publication') throw new UsageError(`flag -drop-publication: ${e.message}`);
      throw e;
    }
    if (v.json) ctx.json({ flow_id: flowId, ...(result ?? {}) });
    else {
      const parts = [`flow "${flowId}" deleted`];
      if (result?.slotDropped) parts.push(`slot ${result.slot} dropped`);
      else if (!dropSlot && result) parts.push(`slot ${result.slot} kept (it holds WAL until dropped: -drop-slot)`);
      if (result?.publicationDropped) parts.push(`publication ${result.publication} dropped`);
      ctx.out(parts.join('; '));
    }
    return EXIT_OK;
  },
};

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(1)} GB`;
}

function slotLine(s: SlotView): string {
  const flow = s.flows.length ? s.flows.join(',') : '(none: orphan)';
  const active = s.active ? `active pid ${s.active_pid ?? '?'}` : 'inactive';
  return `${s.server.padEnd(18)} ${s.database.padEnd(16)} ${s.slot.padEnd(24)} ${flow.padEnd(20)} ${bytes(s.retained_wal_bytes).padStart(9)}  ${active.padEnd(16)} ${s.confirmed_flush_lsn}`;
}

const slotsList: Subcommand = {
  name: 'list',
  summary: 'every replication slot on the flows’ source servers, with its flow, retained WAL and activity',
  usage: `usage: ductstream-admin slots list [-dsn URL] [-json]

Lists every replication slot of every source server the flows use (and of -dsn), with the flow
that uses it — "(none: orphan)" when no flow does — the WAL it retains, and whether a process
streams it. Drop an orphan with \`flow delete -drop-slot\` or pg_drop_replication_slot.`,
  flags: [{ name: 'dsn', type: 'string', placeholder: 'URL', help: 'also list the slots of this server' }, JSON_FLAG],
  async run(v, ctx) {
    const state = await ctx.appState('to find the flows');
    const flows = (await state.flows.list(1000, '')).flows;
    const dsn = v.dsn as string | undefined;
    if (dsn !== undefined && !/^postgres(ql)?:\/\//i.test(dsn))
      throw new UsageError('flag -dsn: is not a postgres:// URL; use postgres://user:pass@host:5432/db');
    const { slots, unreachable } = await listSlots(flows, dsn ? [dsn] : []);
    if (v.json) ctx.json({ slots, unreachable });
    else {
      const head = `${'SERVER'.padEnd(18)} ${'DATABASE'.padEnd(16)} ${'SLOT'.padEnd(24)} ${'FLOW'.padEnd(20)} ${'RETAINED'.padStart(9)}  ${'ACTIVITY'.padEnd(16)} CONFIRMED`;
      ctx.out(slots.length ? [head, ...slots.map(slotLine)].join('\n') : 'no replication slots');
      for (const u of unreachable) ctx.io.stderr(`warning: source server ${u} could not be reached\n`);
    }
    if (unreachable.length > 0 && slots.length === 0 && flows.length > 0)
      throw new DuctError('unavailable', `no source server could be reached (${unreachable.join(', ')})`);
    return EXIT_OK;
  },
};

export const flowCommand: Command = {
  name: 'flow',
  summary: 'delete flows (tearing down their slot and publication)',
  description: 'Flow teardown. Create, start and stop flows with ductstream-worker or the gRPC API.',
  subcommands: [del],
};

export const slotsCommand: Command = {
  name: 'slots',
  summary: 'list replication slots with their flows, retained WAL and activity',
  description: 'Replication slots of the flows’ source servers: find orphans that hold WAL.',
  subcommands: [slotsList],
};
