import { invalidArgument } from '../../core/errors';
import { isLsnText } from '../../core/lsn';
import type { ReplayFrom } from '../../pgstream/consumerGroups';
import { PULL_LIMITS, type AckRequest, type GroupStart, type PullRequest, type ReplayRequest } from '../../pgstream/types';

/**
 * Validation of stream requests, shared by the gRPC handlers and the admin CLI. Errors are
 * `invalid_argument` DuctErrors whose `field` is the proto field name (the CLI maps it to its flag).
 */

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const INT64_MAX = 9_223_372_036_854_775_807n;
export const MAX_ACK_IDS = 10_000;

export function validateStreamName(value: string, field = 'stream'): string {
  const v = value.trim();
  if (v === '') throw invalidArgument(field, 'is required', 'name the stream: the stream option of a pgstream destination, or its name');
  if (!NAME.test(v)) throw invalidArgument(field, `"${v}" is not a valid stream name`, 'use letters, digits, _ . : - (at most 128)');
  return v;
}

export function validateGroupName(value: string, field = 'consumer_group'): string {
  const v = value.trim();
  if (v === '') throw invalidArgument(field, 'is required', 'name the consumer group, e.g. search');
  if (!NAME.test(v)) throw invalidArgument(field, `"${v}" is not a valid group name`, 'use letters, digits, _ . : - (at most 128)');
  return v;
}

function intInRange(value: number, field: string, min: number, max: number, fix: string): number {
  if (!Number.isInteger(value)) throw invalidArgument(field, `${value} is not a whole number`, fix);
  if (value < min) throw invalidArgument(field, `${value} is below the minimum ${min}`, fix);
  if (value > max) throw invalidArgument(field, `${value} is above the maximum ${max}`, fix);
  return value;
}

export function validatePull(req: PullRequest): PullRequest {
  const start: GroupStart = req.start ?? 'beginning';
  if (start !== 'beginning' && start !== 'now') throw invalidArgument('start', `"${String(start)}" is not a group start`, 'use beginning or now');
  return {
    stream: validateStreamName(req.stream),
    group: validateGroupName(req.group),
    maxMessages: intInRange(req.maxMessages, 'max_messages', 1, PULL_LIMITS.maxMessages, `pull 1 to ${PULL_LIMITS.maxMessages} messages, e.g. 10`),
    visibilitySeconds: intInRange(
      req.visibilitySeconds,
      'visibility_timeout_seconds',
      1,
      PULL_LIMITS.maxVisibilitySeconds,
      `lease for 1 to ${PULL_LIMITS.maxVisibilitySeconds} seconds, e.g. 30`,
    ),
    consumerId: req.consumerId.trim().slice(0, 200),
    start,
  };
}

/** An event id: a positive int64 as decimal text. */
export function parseEventId(text: string, field = 'ids'): string {
  const t = text.trim();
  if (!/^\d{1,19}$/.test(t) || BigInt(t) === 0n || BigInt(t) > INT64_MAX) {
    throw invalidArgument(field, `"${text}" is not an event id`, 'use the positive whole numbers that pull returned, e.g. 1,2,3');
  }
  return BigInt(t).toString();
}

export function validateAck(req: AckRequest): AckRequest {
  if (req.ids.length === 0) throw invalidArgument('ids', 'is required', 'list the event ids to ack, e.g. 1,2,3');
  if (req.ids.length > MAX_ACK_IDS) throw invalidArgument('ids', `${req.ids.length} ids is above the maximum ${MAX_ACK_IDS}`, 'ack in smaller batches');
  const ids = [...new Set(req.ids.map((id) => parseEventId(id)))];
  return { stream: validateStreamName(req.stream), group: validateGroupName(req.group), ids };
}

/** Parses a comma-separated id list (the CLI's `-ids 1,2,3`); empty entries are an error. */
export function parseIdList(text: string, field = 'ids'): string[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.every((p) => p === '')) throw invalidArgument(field, 'is empty', 'list event ids, e.g. 1,2,3');
  return parts.map((p) => parseEventId(p, field));
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?([Zz]|[+-]\d{2}:?\d{2}))?$/;

/**
 * An RFC 3339 instant (`2025-01-01T00:00:00Z`, `2025-01-01T02:00:00.5+02:00`) or a date
 * (`2025-01-01`, meaning midnight UTC), checked for a real calendar date; returned as text
 * PostgreSQL parses as timestamptz exactly (microseconds kept).
 */
export function parseInstant(text: string, field = 'since'): string {
  const t = text.trim();
  const m = TIMESTAMP.exec(t);
  const bad = () => invalidArgument(field, `"${text}" is not a timestamp`, 'use RFC 3339 with a zone, e.g. 2025-01-01T00:00:00Z');
  if (!m) throw bad();
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m;
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (day.getUTCFullYear() !== Number(y) || day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d)) throw bad();
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) throw bad();
  const z = zone.toUpperCase() === 'Z' ? '+00:00' : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  if (Number(z.slice(1, 3)) > 15 || Number(z.slice(4, 6)) > 59) throw bad();
  return `${y}-${mo}-${d}T${h}:${mi}:${s}${frac}${z}`;
}

export function validateReplay(req: ReplayRequest): { stream: string; group: string; from: ReplayFrom } {
  const stream = validateStreamName(req.stream);
  const group = validateGroupName(req.group);
  const since = req.since?.trim() || undefined;
  const fromLsn = req.fromLsn?.trim() || undefined;
  if (since && fromLsn) throw invalidArgument('since', 'cannot be combined with from_lsn', 'give a timestamp or an LSN, not both');
  if (!since && !fromLsn) throw invalidArgument('since', 'is required', 'give the commit time to replay from, e.g. 2025-01-01T00:00:00Z, or a commit LSN');
  if (fromLsn) {
    if (!isLsnText(fromLsn)) throw invalidArgument('from_lsn', `"${fromLsn}" is not an LSN`, 'use two hex numbers X/Y, e.g. 0/16B6C50');
    return { stream, group, from: { fromLsn } };
  }
  return { stream, group, from: { since: parseInstant(since!) } };
}
