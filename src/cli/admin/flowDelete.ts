import { DuctError } from '../../core/errors';
import { FlowService } from '../../services/flows/service';
import { EXIT_OK } from '../exit';
import { UsageError } from '../flags';
import type { Subcommand } from './command';

const JSON_FLAG = { name: 'json', type: 'bool' as const, help: 'print JSON (for scripts)' };

/** `flow delete`: removes a flow and its records, optionally its slot and publication. */
export const flowDelete: Subcommand = {
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
