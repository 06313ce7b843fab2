import { randomUUID } from 'node:crypto';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { executorIdFor } from '../../config/env';
import { createLogger } from '../../core/log';
import { describePublication, diffPublication } from '../../services/publications/publication';
import { snapshotAddedTables } from '../../services/publications/snapshot';
import { parsePublicationSync } from '../../services/publications/spec';
import { createPipelineContext } from '../../pipeline/context';
import { bindPipelineContext } from '../../workflows/context';
import { backfillQueueName, type BackfillResult } from '../../workflows/backfill/types';
import { launchDbos, shutdownDbos } from '../../workflows/dbos';
import { publicationSync, setPublicationSyncStore } from '../../workflows/publicationSync';
import { EXIT_OK } from '../exit';
import { UsageError, type FlagValues } from '../flags';
import type { Command, Subcommand } from './command';
import { JSON_FLAG } from './commonFlags';

const FLOW_ID = { name: 'flow-id', type: 'string' as const, placeholder: 'ID', help: 'the flow' };
const FIELD_FLAGS = { flow_id: 'flow-id', schemas: 'schemas', tables: 'tables', mode: 'mode', snapshot: 'snapshot' };

function flowIdOf(v: FlagValues): string {
  const id = v['flow-id'] as string | undefined;
  if (!id) throw new UsageError('flag -flow-id: is required; pass the flow whose publication to use');
  return id;
}

const list: Subcommand = {
  name: 'list',
  summary: "the tables of a flow's publication against the tables the flow names",
  usage: `usage: ductstream-admin publication list -flow-id ID [-json]

Shows each table that is in the flow's publication or named by its publication_tables /
publication_schemas options: whether it is published (its changes reach the slot) and whether the
flow names it. A table named but not published streams nothing until \`publication sync\`.`,
  flags: [FLOW_ID, JSON_FLAG],
  fieldFlags: FIELD_FLAGS,
  async run(v, ctx) {
    const flowId = flowIdOf(v);
    const state = await ctx.appState('to find the flow');
    const flow = await state.flows.get(flowId);
    if (!flow) throw new UsageError(`flag -flow-id: flow "${flowId}" does not exist`);
    const view = await describePublication(flow);
    if (v.json) ctx.json(view);
    else {
      const head = `publication ${view.publication}${view.exists ? '' : ' (does not exist yet)'}${view.all_tables ? ' FOR ALL TABLES' : ''}`;
      const rows = view.tables.map(
        (t) => `${t.table.padEnd(40)} ${(t.in_publication ? 'published' : 'not published').padEnd(14)} ${t.in_flow ? 'in flow' : 'not in flow'}`,
      );
      ctx.out([head, ...(rows.length ? rows : ['(no tables)'])].join('\n'));
    }
    return EXIT_OK;
  },
};

const sync: Subcommand = {
  name: 'sync',
  summary: "add (or sync) tables of a flow's publication, as a durable DBOS workflow",
  usage: `usage: ductstream-admin publication sync -flow-id ID (-schemas S1,S2 | -tables s.t1,s.t2) [-mode add|sync] [-snapshot] [-pause] [-resume] [-json]

Changes the flow's publication as a DBOS workflow (resumed if interrupted): -pause pauses the flow
after its current batch, then ALTER PUBLICATION adds the tables of -schemas or -tables that are
missing (-mode sync also drops the published tables not listed), the flow's options record them,
and -resume resumes the flow. -snapshot backfills the added tables' existing rows (a backfill of the flow) and waits for it.`,
  flags: [
    FLOW_ID,
    { name: 'schemas', type: 'string', placeholder: 'S1,S2', help: 'publish every table of these schemas' },
    { name: 'tables', type: 'string', placeholder: 'schema.t1,schema.t2', help: 'publish these tables' },
    { name: 'mode', type: 'string', placeholder: 'add|sync', help: 'add: only add (default); sync: also drop tables not listed' },
    { name: 'snapshot', type: 'bool', help: "backfill the added tables' existing rows" },
    { name: 'pause', type: 'bool', help: 'pause the flow (after its current batch) while the publication changes' },
    { name: 'resume', type: 'bool', help: 'resume the flow afterwards' },
    JSON_FLAG,
  ],
  fieldFlags: FIELD_FLAGS,
  async run(v, ctx) {
    const spec = parsePublicationSync(
      {
        flow_id: flowIdOf(v),
        schemas: v.schemas as string | undefined,
        tables: v.tables as string | undefined,
        mode: v.mode as string | undefined,
        snapshot: v.snapshot === true,
        pause: v.pause === true,
        resume: v.resume === true,
      },
      true,
    );
    const state = await ctx.appState('to find the flow');
    const flow = await state.flows.get(spec.flowId);
    if (!flow) throw new UsageError(`flag -flow-id: flow "${spec.flowId}" does not exist`);
    await diffPublication(flow, spec); // checks the tables and the publication before anything changes
    const env = ctx.serviceEnv();
    if (!env.dbosSystemDatabaseUrl) throw new UsageError('DUCTSTREAM_POSTGRES_DSN is required to run the publication sync workflow');
    setPublicationSyncStore(state.flows);
    const log = createLogger({ component: 'admin' }, 'warn');
    if (spec.snapshot) {
      // The backfill writes to the flow's destinations from this process: load their kinds.
      await import('../../destinations');
      bindPipelineContext(createPipelineContext(env, state, log));
    }
    await launchDbos({
      env,
      executorId: executorIdFor('admin', ctx.io.env),
      systemDatabaseUrl: env.dbosSystemDatabaseUrl,
      log,
      // -snapshot: this process works on the backfill's partitions too (so do a server and a backfill worker).
      ...(spec.snapshot ? { listenQueues: [backfillQueueName(spec.flowId)] } : {}),
    });
    try {
      const handle = await DBOS.startWorkflow(publicationSync, { workflowID: `pubsync-${spec.flowId}-${randomUUID()}` })(spec);
      const synced = await handle.getResult();
      const backfill = spec.snapshot ? await snapshotAddedTables(spec.flowId, synced.added, 'tables') : undefined;
      const r = { ...synced, backfill_id: backfill?.backfillId ?? '' };
      if (backfill) {
        process.stderr.write(
          `ductstream-admin: backfill ${backfill.backfillId} of ${synced.added.join(', ')} started; waiting for it (progress: backfill status)\n`,
        );
        const done = await DBOS.retrieveWorkflow<BackfillResult>(backfill.backfillId).getResult();
        process.stderr.write(`ductstream-admin: backfill ${backfill.backfillId} done: ${done.rows} rows\n`);
      }
      if (v.json) ctx.json(r);
      else {
        const parts = [`publication of flow "${r.flow_id}": added ${r.added.length ? r.added.join(', ') : 'nothing'}`];
        if (spec.mode === 'sync') parts.push(`dropped ${r.dropped.length ? r.dropped.join(', ') : 'nothing'}`);
        if (r.paused) parts.push('flow paused');
        if (r.resumed) parts.push('flow resumed');
        if (r.backfill_id) parts.push(`backfilled by ${r.backfill_id}`);
        ctx.out(parts.join('; '));
      }
    } finally {
      await shutdownDbos();
    }
    return EXIT_OK;
  },
};

export const publicationCommand: Command = {
  name: 'publication',
  summary: "list and change a flow's publication",
  description: "The publication decides which tables' changes reach a flow's slot.",
  subcommands: [list, sync],
};
