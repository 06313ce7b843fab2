import { DBOS } from '@dbos-inc/dbos-sdk';
import { describeError, DuctError } from '../core/errors';
import { schemaChangeOf, type DdlStatus, type DdlStore } from '../ddl/store';
import { pipelineContext } from './context';
import { applyToDestinations } from '../pipeline/ddlStage';
import { openFlowDestinations } from '../pipeline/destinations';
import { DDL_APPROVAL_WORKFLOW, DDL_TOPIC } from './ddlIds';

export { ddlWorkflowId } from './ddlIds';

/** How long the workflow waits for a wake-up before it reads the event again (a missed message costs this much). */
const WAIT_SECONDS = 30;

function store(): DdlStore {
  const s = pipelineContext().deps.ddl;
  if (!s) throw new DuctError('failed_precondition', 'DDL governance needs the state database', { retry: 'never', hint: 'set DUCTSTREAM_POSTGRES_DSN' });
  return s;
}

interface EventState {
  status: DdlStatus | 'missing';
  applyRequested: boolean;
}

/** Step: the event's status; approves it when DUCTSTREAM_DDL_AUTO_APPROVE is on. */
export async function readDdlDecision(id: number): Promise<EventState> {
  const s = store();
  let e = await s.get(id);
  if (!e) return { status: 'missing', applyRequested: false };
  if (e.status === 'pending' && pipelineContext().deps.env.ddl.autoApprove) e = (await s.transition(id, ['pending'], 'approved', 'auto')) ?? (await s.get(id))!;
  const autoApply = pipelineContext().deps.env.ddl.autoApply && e.status === 'approved';
  return { status: e.status, applyRequested: e.applyRequested || autoApply };
}

/**
 * Step: applies the approved change to the flow's destinations (through the flow's runtime when it
 * streams in this process, else by opening them), then marks it applied; a failure marks it failed
 * with the reason. Idempotent: re-running after a crash re-applies guarded ALTERs.
 */
export async function applyDdlEvent(id: number): Promise<DdlStatus | 'missing'> {
  const s = store();
  const e = await s.get(id);
  if (!e) return 'missing';
  if (e.status !== 'approved' && !(e.status === 'failed' && e.applyRequested)) return e.status;
  const change = schemaChangeOf(e);
  try {
    const rt = pipelineContext().runtimes.runtimeIfHere(e.flowId);
    if (rt) await rt.applySchemaChange(change);
    else {
      const flow = await pipelineContext().deps.flows.get(e.flowId);
      if (!flow) throw new DuctError('not_found', `flow "${e.flowId}" no longer exists`, { retry: 'never' });
      const dests = await openFlowDestinations(flow, pipelineContext().deps.env.wireFormat, pipelineContext().deps.log);
      try {
        await applyToDestinations(change, dests);
      } finally {
        await Promise.allSettled(dests.map((d) => d.close()));
      }
    }
  } catch (err) {
    // Recorded with its reason; `ddl apply` tries again.
    await s.transition(id, ['approved', 'failed'], 'failed', e.actor, describeError(err));
    pipelineContext().deps.log.warn('applying a schema change failed', { event: id, flow: e.flowId, error: describeError(err) });
    return 'failed';
  }
  await s.transition(id, ['approved', 'failed'], 'applied', e.actor);
  pipelineContext().deps.log.info('schema change applied', { event: id, flow: e.flowId });
  return 'applied';
}

async function ddlApprovalBody(id: number): Promise<string> {
  for (;;) {
    const e = await DBOS.runStep(() => readDdlDecision(id), { name: 'readDecision' });
    if (e.status === 'missing' || e.status === 'applied' || e.status === 'rejected') return e.status;
    if (e.applyRequested && (e.status === 'approved' || e.status === 'failed')) {
      await DBOS.runStep(() => applyDdlEvent(id), { name: 'applySchemaChange', retriesAllowed: true, maxAttempts: 5, intervalSeconds: 1, backoffRate: 2 });
      continue;
    }
    await DBOS.recv<string>(DDL_TOPIC, { timeoutSeconds: WAIT_SECONDS });
  }
}

/**
 * DDL approval: record → wait for approve/reject (DBOS.recv; `ddl approve|reject` write the decision
 * to ddl_events and wake it) → wait for apply (`ddl apply`, or DUCTSTREAM_DDL_AUTO_APPLY) → apply to
 * each destination as a step → applied. The flow's held table resumes once the event is applied.
 */
export const ddlApproval = DBOS.registerWorkflow(ddlApprovalBody, { name: DDL_APPROVAL_WORKFLOW });
