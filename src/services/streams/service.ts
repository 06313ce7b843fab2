import { Pool, type PoolClient } from 'pg';
import { DuctError, describeError, isDuctError } from '../../core/errors';
import { maskDsn } from '../../core/redact';
import { connectError, isConnectionLoss } from '../../source/postgres/errors';
import type { FlowStore } from '../../state/flows/store';
import { describeStreams, findStream, groupPending } from '../../pgstream/backlog';
import { ackEvents, ensureGroup, findGroup, leaseEvents, replayGroup } from '../../pgstream/consumerGroups';
import { declareStream } from '../../pgstream/eventLog';
import { FlowStreamLocator, type StreamLocation } from './locate';
import { ensureStreamSchema } from '../../pgstream/schema';
import type { AckRequest, AckResult, PullRequest, PullResult, ReplayRequest, ReplayResult, StreamInfo } from '../../pgstream/types';
import { validateAck, validatePull, validateReplay, validateStreamName } from './validate';

export interface StreamServiceOptions {
  /** Where flows live: streams are found through the pgstream destinations that write them. */
  flows?: FlowStore;
  /** Serve every stream from this DSN instead of looking it up in the flows (the CLI's `-dsn`). */
  dsn?: string;
  /** Connections per stream database (default 4). */
  poolMax?: number;
  /** Reuse a flow listing this long when locating streams (default 0: look up every time). */
  locateCacheMs?: number;
}

/** A stream's info and where it lives (the DSN with its password masked). */
export interface LocatedStreamInfo extends StreamInfo {
  location: string;
}

interface Target {
  stream: string;
  dsn: string;
  /** True when a flow declares the stream (so it exists even before its first event). */
  declared: boolean;
}

/**
 * Consumer groups over Postgres-backed streams: the one implementation behind the gRPC
 * StreamService and `ductstream-admin stream`. It validates requests (errors name the proto field:
 * `stream`, `consumer_group`, `max_messages`, `visibility_timeout_seconds`, `ids`, `since`,
 * `from_lsn`), finds the stream's database, and runs the group operations there.
 *
 * Semantics (at-least-once, as in SQS or Redis streams):
 * - `pull` leases up to `maxMessages` events the group has neither acked nor leased, in stream
 *   order, for `visibilitySeconds`. An unknown group is created by its first pull, starting at the
 *   beginning of the retained stream (or, with `start: 'now'`, after the last event). Concurrent
 *   pulls of one group never lease the same event while its lease runs; when a lease runs out
 *   unacked, the event is delivered again (its delivery count goes up).
 * - `ack` marks events done for that group only; acking twice, or an id the group never received,
 *   is harmless and reported per id.
 * - `replay` makes every retained event committed since a time (or commit LSN) visible to the group
 *   again; leases running now are kept.
 * - An unknown stream is `not_found` (field `stream`); `ack`/`replay` of an unknown group is
 *   `not_found` (field `consumer_group`).
 */
export class StreamService {
  private readonly pools = new Map<string, { pool: Pool; ready: Promise<void> }>();
  private readonly locator?: FlowStreamLocator;
  /** Ids of streams and groups seen (never deleted while a process runs), to spare a lookup per call. */
  private readonly streamIds = new Map<string, number>();
  private readonly groupIds = new Map<string, number>();

  constructor(private readonly opts: StreamServiceOptions) {
    if (!opts.flows && !opts.dsn) throw new DuctError('failed_precondition', 'the stream service needs the flow store or a DSN', { retry: 'never' });
    if (opts.flows) this.locator = new FlowStreamLocator(opts.flows, opts.locateCacheMs ?? 0);
  }

  async pull(input: PullRequest): Promise<PullResult> {
    const req = validatePull(input);
    return this.withStream(req.stream, async (client, streamId, dsn) => {
      const key = groupKey(dsn, streamId, req.group);
      let groupId = this.groupIds.get(key);
      let created = false;
      if (groupId === undefined) {
        const group = await ensureGroup(client, streamId, req.group, req.start ?? 'beginning');
        groupId = group.id;
        created = group.created;
        this.groupIds.set(key, groupId);
      }
      const messages = await leaseEvents(client, streamId, groupId, req.maxMessages, req.visibilitySeconds, req.consumerId);
      return { stream: req.stream, group: req.group, groupCreated: created, messages };
    });
  }

  async ack(input: AckRequest): Promise<AckResult> {
    const req = validateAck(input);
    return this.withStream(req.stream, async (client, streamId, dsn) => {
      const groupId = await this.requireGroup(client, dsn, streamId, req.stream, req.group);
      const statuses = await ackEvents(client, groupId, req.ids);
      const result: AckResult = { stream: req.stream, group: req.group, acked: [], alreadyAcked: [], notDelivered: [] };
      for (const id of req.ids) {
        const s = statuses.get(id) ?? 'not_delivered';
        (s === 'acked' ? result.acked : s === 'already_acked' ? result.alreadyAcked : result.notDelivered).push(id);
      }
      return result;
    });
  }

  async replay(input: ReplayRequest): Promise<ReplayResult> {
    const req = validateReplay(input);
    return this.withStream(req.stream, async (client, streamId, dsn) => {
      const groupId = await this.requireGroup(client, dsn, streamId, req.stream, req.group);
      const reset = await replayGroup(client, streamId, groupId, req.from);
      return { stream: req.stream, group: req.group, reset, pending: await groupPending(client, streamId, groupId) };
    });
  }

  /** The streams named (all known ones when none), with their groups' backlog. */
  async list(names: readonly string[] = []): Promise<LocatedStreamInfo[]> {
    const wanted = names.map((n) => validateStreamName(n));
    const targets: Target[] = [];
    if (wanted.length > 0) for (const n of wanted) targets.push(await this.target(n));
    else targets.push(...(await this.allTargets()));
    const byDsn = new Map<string, Target[]>();
    for (const t of targets) byDsn.set(t.dsn, [...(byDsn.get(t.dsn) ?? []), t]);
    const out: LocatedStreamInfo[] = [];
    for (const [dsn, ts] of byDsn) {
      const infos = await this.withClient(dsn, (client) => describeStreams(client, this.opts.dsn && wanted.length === 0 ? undefined : ts.map((t) => t.stream)));
      const location = maskDsn(dsn);
      for (const info of infos) out.push({ ...info, location });
      for (const t of ts) {
        if (t.declared && !infos.some((i) => i.name === t.stream)) {
          out.push({ name: t.stream, format: '', flowId: '', events: 0, firstId: '', lastId: '', lastCommitTime: '', groups: [], location });
        }
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(pools.map((p) => p.pool.end()));
  }

  private async allTargets(): Promise<Target[]> {
    if (this.opts.dsn) return [{ stream: '', dsn: this.opts.dsn, declared: false }];
    return (await this.locator!.all()).map((l) => ({ stream: l.stream, dsn: l.dsn, declared: true }));
  }

  private async target(stream: string): Promise<Target> {
    if (this.opts.dsn) return { stream, dsn: this.opts.dsn, declared: false };
    const found: StreamLocation[] = await this.locator!.find(stream);
    if (found.length === 0) {
      throw new DuctError('not_found', `stream "${stream}" is not written by any flow`, {
        field: 'stream',
        retry: 'never',
        hint: 'use the stream option (or the name) of a pgstream destination of a flow, or name the stream database with -dsn',
      });
    }
    if (found.length > 1) {
      throw new DuctError(
        'failed_precondition',
        `stream "${stream}" is written into ${found.length} databases (flows ${[...new Set(found.flatMap((f) => f.flowIds))].sort().join(', ')})`,
        {
          field: 'stream',
          retry: 'never',
          hint: 'name the stream database with -dsn, or give the destinations distinct stream names',
        },
      );
    }
    return { stream, dsn: found[0]!.dsn, declared: true };
  }

  private async withStream<T>(stream: string, fn: (client: PoolClient, streamId: number, dsn: string) => Promise<T>): Promise<T> {
    const target = await this.target(stream);
    return this.withClient(target.dsn, async (client) => {
      const key = `${target.dsn}\u0000${stream}`;
      let id = this.streamIds.get(key);
      if (id === undefined) {
        id = target.declared ? await declareStream(client, stream) : await findStream(client, stream);
        if (id === undefined) {
          throw new DuctError('not_found', `stream "${stream}" does not exist in ${maskDsn(target.dsn)}`, {
            field: 'stream',
            retry: 'never',
            hint: 'check the name; a stream exists once its pgstream destination has opened',
          });
        }
        this.streamIds.set(key, id);
      }
      return fn(client, id, target.dsn);
    });
  }

  private async requireGroup(client: PoolClient, dsn: string, streamId: number, stream: string, group: string): Promise<number> {
    const key = groupKey(dsn, streamId, group);
    const cached = this.groupIds.get(key);
    if (cached !== undefined) return cached;
    const id = await findGroup(client, streamId, group);
    if (id === undefined) {
      throw new DuctError('not_found', `consumer group "${group}" of stream "${stream}" does not exist`, {
        field: 'consumer_group',
        retry: 'never',
        hint: 'a group is created by its first pull',
      });
    }
    this.groupIds.set(key, id);
    return id;
  }

  private async withClient<T>(dsn: string, fn: (client: PoolClient) => Promise<T>): Promise<T> {
    let entry = this.pools.get(dsn);
    if (!entry) {
      const pool = new Pool({ connectionString: dsn, max: this.opts.poolMax ?? 4, application_name: 'ductstream-streams', allowExitOnIdle: true });
      pool.on('error', () => undefined);
      const ready = (async () => {
        const c = await pool.connect();
        try {
          await ensureStreamSchema(c);
        } finally {
          c.release();
        }
      })();
      entry = { pool, ready };
      this.pools.set(dsn, entry);
      ready.catch(() => this.pools.get(dsn) === entry && this.pools.delete(dsn));
    }
    let client: PoolClient;
    try {
      await entry.ready;
      client = await entry.pool.connect();
    } catch (e) {
      throw isDuctError(e) ? e : connectError(e, dsn, 'stream database');
    }
    try {
      return await fn(client);
    } catch (e) {
      throw serviceError(e);
    } finally {
      client.release();
    }
  }
}

function groupKey(dsn: string, streamId: number, group: string): string {
  return `${dsn}\u0000${streamId}\u0000${group}`;
}

function serviceError(e: unknown): DuctError {
  if (isDuctError(e)) return e;
  if (isConnectionLoss(e)) return new DuctError('unavailable', `stream database: ${describeError(e)}`, { retry: 'transient', cause: e });
  return new DuctError('internal', `stream database: ${describeError(e)}`, { retry: 'never', cause: e });
}
