import { DuctError } from '../../core/errors';
import type { DdlEventView } from '../../services/ddl/service';
import { EXIT_OK } from '../exit';
import { UsageError, type FlagSpec, type FlagValues } from '../flags';
import type { Command, Subcommand } from './command';
import type { AdminContext } from './context';
import { installDdlTrigger } from './ddlTrigger';

const P = 'ductstream-admin ddl';
const ID: FlagSpec = { name: 'id', type: 'string', placeholder: 'N', help: 'the DDL event id (from ddl list)' };
const JSON_FLAG: FlagSpec = { name: 'json', type: 'bool', help: 'print JSON (for scripts)' };
const FIELD_FLAGS: Record<string, string> = { id: 'id', status: 'status', flow_id: 'flow-id' };

/** A wrong-state error about the event the user named is bad input too (exit 2). */
function asUsage(e: unknown): unknown {
  if (e instanceof DuctError && e.code === 'failed_precondition' && e.field === 'id')
    return new UsageError(`flag -id: ${e.message.replace(/^id: /, '')}${e.hint ? ` (${e.hint})` : ''}`);
  return e;
}

function requireId(v: FlagValues): string {
  const id = v.id as string | undefined;
  if (id === undefined) throw new UsageError('flag -id: is required; pass the event id shown by ddl list');
  return id;
}

function line(e: DdlEventView): string {
  const reason = e.reason ? `  reason: ${e.reason}` : '';
  return `${String(e.id).padEnd(5)} ${e.flow_id.padEnd(16)} ${e.table.padEnd(24)} ${e.kind.padEnd(28)} ${e.lsn.padEnd(12)} ${e.status.padEnd(9)} ${e.actor}${reason}`;
}

function show(ctx: AdminContext, v: FlagValues, e: DdlEventView, verb: string): number {
  if (v.json) ctx.json(e);
  else ctx.out(`DDL event ${e.id} (${e.table}, ${e.kind}) ${verb}; status ${e.status}`);
  return EXIT_OK;
}

const list: Subcommand = {
  name: 'list',
  summary: 'list DDL events (schema changes) and their status',
  usage: `usage: ${P} list [-status pending|approved|rejected|applied|failed] [-flow-id ID] [-json]

Lists the schema changes DuctStream detected, oldest first: id, flow, table, kind (add_column,
drop_column, rename_column, retype_column, key_change, new_table, drop_table), the LSN where the
change takes effect, status and who decided. A held table waits for its events to be applied.`,
  flags: [
    { name: 'status', type: 'string', placeholder: 'STATUS', help: 'only events in this status' },
    { name: 'flow-id', type: 'string', placeholder: 'ID', help: 'only events of this flow' },
    JSON_FLAG,
  ],
  fieldFlags: FIELD_FLAGS,
  async run(v, ctx) {
    const events = await (await ctx.ddlService()).list({ status: v.status as string | undefined, flow_id: v['flow-id'] as string | undefined });
    if (v.json) ctx.json(events);
    else if (events.length === 0) ctx.out('no DDL events');
    else
      ctx.out(
        [
          `${'ID'.padEnd(5)} ${'FLOW'.padEnd(16)} ${'TABLE'.padEnd(24)} ${'KIND'.padEnd(28)} ${'LSN'.padEnd(12)} ${'STATUS'.padEnd(9)} ACTOR`,
          ...events.map(line),
        ].join('\n'),
      );
    return EXIT_OK;
  },
};

const approve: Subcommand = {
  name: 'approve',
  summary: 'approve a pending DDL event',
  usage: `usage: ${P} approve -id N [-json]

Approves a pending schema change. The flow's table stays held until the change is applied
(\`ddl apply\`, or DUCTSTREAM_DDL_AUTO_APPLY=true).`,
  flags: [ID, JSON_FLAG],
  fieldFlags: FIELD_FLAGS,
  async run(v, ctx) {
    try {
      return show(ctx, v, await (await ctx.ddlService()).approve(requireId(v), ctx.actor()), 'approved');
    } catch (e) {
      throw asUsage(e);
    }
  },
};

const reject: Subcommand = {
  name: 'reject',
  summary: 'reject a DDL event (its table stays stopped)',
  usage: `usage: ${P} reject -id N [-reason TEXT] [-json]

Rejects a schema change. The table stays stopped at the change's LSN with the reason shown by
\`ddl list\`; its other tables go on. Change the source back, or recreate the destination table and
backfill, then delete and recreate the flow.`,
  flags: [ID, { name: 'reason', type: 'string', placeholder: 'TEXT', help: 'why (shown by ddl list)' }, JSON_FLAG],
  fieldFlags: FIELD_FLAGS,
  async run(v, ctx) {
    try {
      return show(ctx, v, await (await ctx.ddlService()).reject(requireId(v), ctx.actor(), (v.reason as string | undefined) ?? ''), 'rejected');
    } catch (e) {
      throw asUsage(e);
    }
  },
};

const apply: Subcommand = {
  name: 'apply',
  summary: 'apply an approved DDL event to the destinations',
  usage: `usage: ${P} apply -id N [-json]

Asks the event's approval workflow (in the process running the flow) to apply the change to each
destination; the held table then resumes from the change's LSN with nothing lost. A failed apply
can be retried the same way.`,
  flags: [ID, JSON_FLAG],
  fieldFlags: FIELD_FLAGS,
  async run(v, ctx) {
    try {
      return show(ctx, v, await (await ctx.ddlService()).apply(requireId(v), ctx.actor()), 'apply requested');
    } catch (e) {
      throw asUsage(e);
    }
  },
};

const installTrigger: Subcommand = {
  name: 'install-trigger',
  summary: "install an event trigger that emits each DDL into the flow's replication stream",
  usage: `usage: ${P} install-trigger -flow-id ID

Installs (or replaces) an event trigger on the flow's source database that writes the text of
every ALTER/CREATE/DROP TABLE into the WAL with pg_logical_emit_message, so the change is known
at its LSN before the table's next row; ddl list then shows the DDL text. Needs a superuser.`,
  flags: [{ name: 'flow-id', type: 'string', placeholder: 'ID', help: 'the flow whose source gets the trigger' }],
  fieldFlags: FIELD_FLAGS,
  async run(v, ctx) {
    const flowId = v['flow-id'] as string | undefined;
    if (!flowId) throw new UsageError('flag -flow-id: is required; pass the flow whose source database gets the trigger');
    const state = await ctx.appState('to find the flow');
    const flow = await state.flows.get(flowId);
    if (!flow) throw new UsageError(`flag -flow-id: flow "${flowId}" does not exist`);
    await installDdlTrigger(flow);
    ctx.out(`installed the DDL event trigger on the source of flow "${flowId}"`);
    return EXIT_OK;
  },
};

export const ddlCommand: Command = {
  name: 'ddl',
  summary: 'list, approve, reject and apply schema changes (DDL governance)',
  description: `Schema changes of source tables are recorded as DDL events. With DUCTSTREAM_DDL_GATE=true a
changed table stops at the change until it is approved and applied; other tables go on.`,
  subcommands: [list, approve, reject, apply, installTrigger],
};
