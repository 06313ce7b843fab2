import { DuctError, invalidArgument } from '../../core/errors';
import { FLOW_STATES } from '../../core/flow';
import type { StatusSampler } from '../../status/sampler';
import type { ApiContext, ApiServiceRegistration } from '../registration';
import { unary } from '../unary';
import { flowInput, flowMessage, flowRunMessage, type FlowMessage } from './messages';
import { encodeFlowStatusList, flowStatusMessage } from './statusMessages';

interface FlowIdRequest {
  flow_id: string;
}

function statusOf(ctx: ApiContext): StatusSampler {
  if (!ctx.status) throw new DuctError('failed_precondition', 'this server samples no flow status', { hint: 'use ./bin/ductstream, which always does' });
  return ctx.status;
}

/**
 * ductstream.v1.FlowService: each handler converts the message, calls the FlowService
 * (src/services/flows/service.ts) and converts the answer back. No logic lives here.
 */
export const flowServiceRegistration: ApiServiceRegistration = {
  service: 'ductstream.v1.FlowService',
  implement: (ctx: ApiContext) => {
    const log = ctx.log.child({ service: 'FlowService' });
    const flows = ctx.flows;
    /** A flow changed through this API: list answers show it at once. */
    const changed = <T>(v: T): T => {
      ctx.status?.invalidate();
      return v;
    };
    return {
      CreateFlow: unary(log, 'CreateFlow', async (r: { flow: FlowMessage | null; start_immediately: boolean }) =>
        changed(flowMessage(await flows.create(flowInput(r.flow), r.start_immediately))),
      ),
      GetFlow: unary(log, 'GetFlow', async (r: FlowIdRequest) => flowMessage(await flows.get(r.flow_id))),
      ListFlows: unary(log, 'ListFlows', async (r: { page_size: number; page_token: string }) => {
        const page = await flows.list(r.page_size, r.page_token);
        return { flows: page.flows.map(flowMessage), next_page_token: page.nextPageToken };
      }),
      UpdateFlow: unary(log, 'UpdateFlow', async (r: { flow: FlowMessage | null }) => changed(flowMessage(await flows.update(flowInput(r.flow))))),
      DeleteFlow: unary(log, 'DeleteFlow', async (r: FlowIdRequest & { drop_slot?: boolean; drop_publication?: boolean }) => {
        const res = await flows.delete(r.flow_id, { dropSlot: r.drop_slot === true, dropPublication: r.drop_publication === true });
        return changed({ slot_dropped: res?.slotDropped ?? false, publication_dropped: res?.publicationDropped ?? false });
      }),
      StartFlow: unary(log, 'StartFlow', async (r: FlowIdRequest) => changed(flowMessage(await flows.start(r.flow_id)))),
      StopFlow: unary(log, 'StopFlow', async (r: FlowIdRequest) => changed(flowMessage(await flows.stop(r.flow_id)))),
      PauseFlow: unary(log, 'PauseFlow', async (r: FlowIdRequest) => changed(flowMessage(await flows.pause(r.flow_id)))),
      ResumeFlow: unary(log, 'ResumeFlow', async (r: FlowIdRequest) => changed(flowMessage(await flows.resume(r.flow_id)))),
      RunFlowOnce: unary(log, 'RunFlowOnce', async (r: FlowIdRequest) => flowRunMessage(await flows.runOnce(r.flow_id))),
      ListFlowRuns: unary(log, 'ListFlowRuns', async (r: { flow_id: string; page_size: number; page_token: string }) => {
        const page = await flows.listRuns(r.flow_id, r.page_size, r.page_token);
        return { runs: page.runs.map(flowRunMessage), next_page_token: page.nextPageToken };
      }),
      GetFlowRun: unary(log, 'GetFlowRun', async (r: { flow_id: string; run_id: string }) => flowRunMessage(await flows.getRun(r.flow_id, r.run_id))),
      GetFlowStatus: unary(log, 'GetFlowStatus', async (r: FlowIdRequest) => {
        if (!r.flow_id) throw invalidArgument('flow_id', 'is required', 'name the flow, e.g. {"flow_id": "orders"}');
        const s = await statusOf(ctx).collector.one(r.flow_id);
        if (!s) throw new DuctError('not_found', `flow "${r.flow_id}" does not exist`, { field: 'flow_id', hint: 'list flows with ListFlows' });
        return flowStatusMessage(s);
      }),
      ListFlowStatus: unary(log, 'ListFlowStatus', async (r: { state: string }) => {
        if (r.state && !(FLOW_STATES as readonly string[]).includes(r.state))
          throw invalidArgument('state', `"${r.state}" is not a flow state`, `use one of: ${FLOW_STATES.join(', ')}, or nothing for all`);
        const all = await statusOf(ctx).list();
        return encodeFlowStatusList(all.filter((s) => !r.state || s.state === r.state));
      }),
    };
  },
};
