import { formatBytes as bytes } from '../../core/bytes';
import { DuctError } from '../../core/errors';
import { listSlots, type SlotView } from '../../services/teardown/slots';
import { EXIT_OK } from '../exit';
import { UsageError } from '../flags';
import type { Command, Subcommand } from './command';

const JSON_FLAG = { name: 'json', type: 'bool' as const, help: 'print JSON (for scripts)' };

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

export const slotsCommand: Command = {
  name: 'slots',
  summary: 'list replication slots with their flows, retained WAL and activity',
  description: 'Replication slots of the flows’ source servers: find orphans that hold WAL.',
  subcommands: [slotsList],
};
