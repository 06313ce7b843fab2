import { parseIdList, validateAck, validatePull, validateReplay, validateStreamName } from '../../services/streams/validate';
import { EXIT_OK } from '../exit';
import { UsageError, type FlagSpec, type FlagValues } from '../flags';
import type { Command, Subcommand } from './command';
import { ackJson, ackText, listJson, listText, pullJson, pullText, replayJson, replayText } from './streamOutput';
import { JSON_FLAG } from './commonFlags';

const P = 'ductstream-admin stream';

const STREAM: FlagSpec = {
  name: 'stream',
  type: 'string',
  placeholder: 'NAME',
  help: "the stream: a pgstream destination's stream option (default: its name)",
};
const GROUP: FlagSpec = { name: 'group', type: 'string', placeholder: 'NAME', help: 'the consumer group' };
const DSN: FlagSpec = { name: 'dsn', type: 'string', placeholder: 'URL', help: "the stream's database (default: found from the flow that writes the stream)" };

/** Service request fields → the flags that carry them. */
const FIELD_FLAGS: Record<string, string> = {
  stream: 'stream',
  consumer_group: 'group',
  max_messages: 'max',
  visibility_timeout_seconds: 'visibility',
  consumer_id: 'consumer',
  start: 'start',
  ids: 'ids',
  since: 'since',
  from_lsn: 'from-lsn',
};

const str = (v: FlagValues, name: string): string => (v[name] as string | undefined) ?? '';
const optional = (v: FlagValues, name: string): string | undefined => v[name] as string | undefined;

const pull: Subcommand = {
  name: 'pull',
  summary: 'lease the next events of a consumer group',
  usage: `usage: ${P} pull -stream NAME -group NAME [-max N] [-visibility SECONDS] [-json]

Leases up to -max events the group has neither acked nor leased, in stream order, for
-visibility seconds. Ack them (\`stream ack\`) before the lease runs out, or they are delivered
again. Consumers pulling the same group at once never receive the same leased event. A group
that does not exist yet is created by its first pull, starting at the beginning of the stream
(-start now: only events written from now on). Payloads are in the stream's wire format.`,
  flags: [
    STREAM,
    GROUP,
    { name: 'max', type: 'int', placeholder: 'N', help: 'most events to lease, 1 to 10000 (default 10)' },
    { name: 'visibility', type: 'int', placeholder: 'SECONDS', help: 'lease length in seconds, 1 to 43200 (default 30)' },
    { name: 'consumer', type: 'string', placeholder: 'ID', help: 'consumer id recorded with the lease (default ductstream-admin@host:pid)' },
    { name: 'start', type: 'string', placeholder: 'beginning|now', help: 'where a group created by this pull starts (default beginning)' },
    DSN,
    JSON_FLAG,
  ],
  fieldFlags: FIELD_FLAGS,
  async run(v, ctx) {
    const start = optional(v, 'start') ?? 'beginning';
    if (start !== 'beginning' && start !== 'now') throw new UsageError(`flag -start: "${start}" is not a group start; use beginning or now`);
    const consumerId = optional(v, 'consumer') ?? ctx.consumerId();
    const visibility = (v.visibility as number | undefined) ?? 30;
    // Validated before connecting, so bad flags are reported even without a database.
    const req = validatePull({
      stream: str(v, 'stream'),
      group: str(v, 'group'),
      maxMessages: (v.max as number | undefined) ?? 10,
      visibilitySeconds: visibility,
      consumerId,
      start: start,
    });
    const r = await (await ctx.streamService(optional(v, 'dsn'))).pull(req);
    if (v.json) ctx.json(pullJson(r));
    else ctx.out(pullText(r, consumerId, visibility));
    return EXIT_OK;
  },
};

const ack: Subcommand = {
  name: 'ack',
  summary: 'mark events done for a consumer group',
  usage: `usage: ${P} ack -stream NAME -group NAME -ids 1,2,3 [-json]

Marks the events done for this group only (other groups still receive them). Acking an id twice,
or an id this group never received, changes nothing and is reported; the exit code stays 0.`,
  flags: [STREAM, GROUP, { name: 'ids', type: 'string', placeholder: '1,2,3', help: 'event ids from pull, comma-separated' }, DSN, JSON_FLAG],
  fieldFlags: FIELD_FLAGS,
  async run(v, ctx) {
    const idsText = optional(v, 'ids');
    if (idsText === undefined) throw new UsageError('flag -ids is required; list the event ids from pull, e.g. -ids 1,2,3');
    const req = validateAck({ stream: str(v, 'stream'), group: str(v, 'group'), ids: parseIdList(idsText) });
    const r = await (await ctx.streamService(optional(v, 'dsn'))).ack(req);
    if (v.json) ctx.json(ackJson(r));
    else ctx.out(ackText(r));
    return EXIT_OK;
  },
};

const replay: Subcommand = {
  name: 'replay',
  summary: 'redeliver to a consumer group everything committed since a time (or LSN)',
  usage: `usage: ${P} replay -stream NAME -group NAME -since 2025-01-01T00:00:00Z [-json]
       ${P} replay -stream NAME -group NAME -from-lsn X/Y [-json]

Makes every retained event committed at or after -since (RFC 3339 with a zone, or a date meaning
midnight UTC), or whose commit LSN is at or after -from-lsn, visible to the group again, acked or
not; events leased right now keep their lease. Other groups are not affected.`,
  flags: [
    STREAM,
    GROUP,
    { name: 'since', type: 'string', placeholder: 'TIME', help: 'commit time to replay from, e.g. 2025-01-01T00:00:00Z' },
    { name: 'from-lsn', type: 'string', placeholder: 'X/Y', help: 'commit LSN to replay from, instead of -since' },
    DSN,
    JSON_FLAG,
  ],
  fieldFlags: FIELD_FLAGS,
  async run(v, ctx) {
    const from = { since: optional(v, 'since'), fromLsn: optional(v, 'from-lsn') };
    const req = { stream: str(v, 'stream'), group: str(v, 'group'), ...from };
    validateReplay(req);
    const r = await (await ctx.streamService(optional(v, 'dsn'))).replay(req);
    if (v.json) ctx.json(replayJson(r, from));
    else ctx.out(replayText(r, from));
    return EXIT_OK;
  },
};

const list: Subcommand = {
  name: 'list',
  summary: 'show streams with their consumer groups and backlog',
  usage: `usage: ${P} list [-stream NAME[,NAME]] [-json]

Lists the streams that flows write (or those named, or every stream at -dsn) with their event
counts and, per consumer group, pending (not acked), leased, acked and redelivered events.`,
  flags: [{ ...STREAM, placeholder: 'NAME[,NAME]', help: 'only these streams (default: all)' }, DSN, JSON_FLAG],
  fieldFlags: FIELD_FLAGS,
  async run(v, ctx) {
    const names = (optional(v, 'stream') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map((s) => validateStreamName(s));
    const streams = await ctx.streamService(optional(v, 'dsn'));
    const infos = await streams.list(names);
    if (v.json) ctx.json(listJson(infos));
    else ctx.out(listText(infos));
    return EXIT_OK;
  },
};

/** `ductstream-admin stream`: consumer groups over pgstream streams. */
export const streamCommand: Command = {
  name: 'stream',
  summary: 'pull, ack and replay events of Postgres-backed streams (pgstream destinations)',
  description: `Consumer groups over the streams that pgstream destinations write, with visibility timeouts
(at-least-once, as in SQS or Redis streams). The stream's database is found from the flow whose
pgstream destination writes it (DUCTSTREAM_POSTGRES_DSN), or given with -dsn.`,
  subcommands: [pull, ack, replay, list],
};
