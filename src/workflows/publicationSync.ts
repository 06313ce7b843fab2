import { DBOS } from '@dbos-inc/dbos-sdk';
import { tableKey, type TableRef } from '../core/change';
import { DuctError } from '../core/errors';
import type { Flow, FlowState } from '../core/flow';
import { alterPublication, diffPublication, withSyncedOptions, type PublicationDiff } from '../services/publications/publication';
import type { PublicationSyncSpec } from '../services/publications/spec';
import type { FlowStore } from '../state/flows/store';
import { parsePostgresSourceConfig } from '../source/postgres/config';
import { connectClient, endQuietly } from '../source/postgres/connect';

export const PUBLICATION_SYNC_WORKFLOW = 'publicationSync';

export interface PublicationSyncResult {
  flow_id: string;
  added: string[];
  dropped: string[];
  paused: boolean;
  resumed: boolean;
}

/** What the workflow's steps use; set by the process that runs it (admin CLI or server). */
let store: FlowStore | undefined;
export function setPublicationSyncStore(s: FlowStore): void {
  store = s;
}

function flows(): FlowStore {
  if (!store) throw new DuctError('internal', 'publication sync: the flow store is not set', { retry: 'never' });
  return store;
}

async function loadFlow(flowId: string): Promise<Flow> {
  const f = await flows().get(flowId);
  if (!f) throw new DuctError('not_found', `flow_id: flow "${flowId}" does not exist`, { field: 'flow_id', retry: 'never' });
  return f;
}

/** Step: pauses a running flow and waits (up to 30 s) until no process streams its slot: its run ended after its batch. */
async function pauseFlow(flowId: string): Promise<FlowState> {
  const flow = await loadFlow(flowId);
  if (flow.state === 'running') await flows().setState(flowId, 'paused');
  const config = parsePostgresSourceConfig(flow.source.options, 'source.options');
  const client = await connectClient(config.dsn, 'source.options.dsn', { applicationName: 'ductstream-publication' });
  try {
    for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
      const r = await client.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [config.slot]);
      if (!r.rows[0]?.active) break;
      await new Promise((res) => setTimeout(res, 250));
    }
  } finally {
    await endQuietly(client);
  }
  return flow.state;
}

async function resumeFlow(flowId: string): Promise<boolean> {
  const flow = await loadFlow(flowId);
  if (flow.state !== 'paused') return false;
  await flows().setState(flowId, 'running');
  return true;
}

const names = (ts: TableRef[]): string[] => ts.map(tableKey);

async function publicationSyncBody(spec: PublicationSyncSpec): Promise<PublicationSyncResult> {
  const diff = await DBOS.runStep(async (): Promise<PublicationDiff> => diffPublication(await loadFlow(spec.flowId), spec), { name: 'diff' });
  let paused = false;
  if (spec.pause) {
    const before = await DBOS.runStep(() => pauseFlow(spec.flowId), { name: 'pause' });
    paused = before === 'running';
  }
  const done = await DBOS.runStep(async () => alterPublication(await loadFlow(spec.flowId), diff), { name: 'alterPublication' });
  await DBOS.runStep(async () => void (await flows().update(withSyncedOptions(await loadFlow(spec.flowId), spec))), { name: 'recordInFlow' });
  // -snapshot is refused at validation until backfill is available (see parsePublicationSync).
  const resumed = spec.resume ? await DBOS.runStep(() => resumeFlow(spec.flowId), { name: 'resume' }) : false;
  return { flow_id: spec.flowId, added: names(done.add), dropped: names(done.drop), paused, resumed };
}

/**
 * publicationSync(spec): diff → pause (after the flow's current batch) → ALTER PUBLICATION →
 * record the tables in the flow's options → resume. Each step is idempotent, so a crash anywhere
 * resumes to the same end state. Tables added this way start streaming at the flow's next change;
 * with the DDL gate on, their first rows wait for the `new_table` event's approval.
 */
export const publicationSync = DBOS.registerWorkflow(publicationSyncBody, { name: PUBLICATION_SYNC_WORKFLOW });
