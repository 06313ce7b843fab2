import { describeError } from '../core/errors';
import type { Logger } from '../core/log';
import type { Flow } from '../core/flow';
import { listAllFlows, slotsVia, StatusCollector, type CollectorDeps, type FlowSource, type SlotSource } from './collector';
import { updateFlowMetrics } from './metrics';
import type { AlarmKind, FlowStatus, SlotStatus } from './model';
import type { SourceQuery } from './slotProbe';
import { SourceConnections } from './sourceConnections';

/** One point of a flow's lag chart. */
export interface LagPoint {
  /** ms since the epoch */
  t: number;
  lagBytes: number;
  lagSeconds: number;
}

/**
 * How long list answers reuse the flows (name, state, reason) they read: concurrent and repeated
 * list calls within it share one query. A state change made through this process's API shows at
 * once ({@link StatusSampler.invalidate}); one made elsewhere within this long, well within the
 * status page's 2 s refresh.
 */
export const LIST_FRESH_MS = 500;

/** How long the lag history reaches back. */
export const HISTORY_MS = 3_600_000;

/** A flow's status in the latest sample, with the stored state it was built from. */
interface Sampled {
  status: FlowStatus;
  name: string;
  state: string;
  reason: string;
}

/**
 * Samples every flow's status every `intervalMs` (server: all flows; worker: its flow): reads the
 * slots (one query per source server on a kept connection), keeps the last hour of lag per flow for
 * the chart, sets the metrics, and logs a warning when an alarm is raised (once, until it clears).
 * A sample costs a constant number of queries whatever the number of flows (see
 * {@link StatusCollector.allOf}).
 */
export class StatusSampler {
  private readonly slots = new Map<string, SlotStatus>();
  private readonly history = new Map<string, LagPoint[]>();
  private readonly raised = new Map<string, Set<AlarmKind>>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private latest = new Map<string, Sampled>();
  /** The flows the latest list answers read, and when. */
  private listed?: { at: number; flows: Promise<Flow[]> };
  private readonly sampling: StatusCollector;
  private readonly connections?: SourceConnections;
  private readonly query: SourceQuery;
  /** Answers requests (API, page, CLI in this process) from the latest sample's slot numbers. */
  readonly collector: StatusCollector;

  constructor(
    private readonly o: {
      deps: Omit<CollectorDeps, 'slots'>;
      intervalMs: number;
      log: Logger;
      /** Only these flows (a worker's); all when unset. */
      only?: ReadonlySet<string>;
      /** How source servers are asked (default: one kept connection per server). */
      sourceQuery?: SourceQuery;
      /** How long list answers reuse the flows they read (default {@link LIST_FRESH_MS}). */
      listFreshMs?: number;
    },
  ) {
    if (!o.sourceQuery) this.connections = new SourceConnections();
    this.query = o.sourceQuery ?? this.connections!.query;
    this.sampling = new StatusCollector({ ...o.deps, slots: this.slotsForSample });
    this.collector = new StatusCollector({ ...o.deps, slots: this.slotsCached });
  }

  /** Source servers of the latest sample, whose connections are kept. */
  private sampledDsns = new Set<string>();

  /** Reads the slots of `flows` now and remembers them. */
  private readonly readSlots: SlotSource = async (flows) => {
    const read = await slotsVia(this.query)(flows);
    for (const [flowId, s] of read) this.slots.set(flowId, s);
    return read;
  };

  /** Slot source for the sampling collector. */
  private readonly slotsForSample: SlotSource = async (flows) => {
    this.sampledDsns = new Set(flows.map((f) => f.dsn));
    return this.readSlots(flows);
  };

  /** Slot source for answering requests: the latest sample; flows not sampled yet are read now. */
  private readonly slotsCached: SlotSource = async (flows) => {
    const missing: FlowSource[] = flows.filter((f) => !this.slots.has(f.flowId));
    if (missing.length > 0) await this.readSlots(missing);
    return new Map(flows.map((f) => [f.flowId, this.slots.get(f.flowId)!] as const));
  };

  start(): void {
    const loop = async (): Promise<void> => {
      await this.sample();
      if (this.timer !== undefined) this.timer = setTimeout(() => void loop(), this.o.intervalMs).unref();
    };
    this.timer = setTimeout(() => void loop(), 0).unref();
  }

  /** Stops sampling and closes the connections to source servers. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
    await this.connections?.close();
  }

  /** Takes one sample now (serialized with the periodic ones). */
  sample(): Promise<void> {
    this.running = (this.running ?? Promise.resolve()).then(() => this.sampleOnce());
    return this.running;
  }

  /** The last hour of lag of a flow, oldest first. */
  lagHistory(flowId: string): LagPoint[] {
    return this.history.get(flowId) ?? [];
  }

  /**
   * Every flow's status for list answers (ListFlowStatus, the page's list) with at most one query,
   * on the flows (reused for {@link LIST_FRESH_MS}): a flow whose stored name, state and reason are those of the latest sample is answered
   * with that sample's status object itself (read-only: callers may cache what they derive from
   * it); one that changed since shows its stored name, state and reason at once, with the sample's
   * numbers; flows not sampled yet are collected now.
   */
  async list(): Promise<FlowStatus[]> {
    const flows = await this.storedFlows();
    const latest = this.latest;
    const missing = flows.filter((f) => !latest.has(f.id));
    const fresh = new Map<string, FlowStatus>();
    if (missing.length > 0) for (const s of await this.collector.allOf(missing)) fresh.set(s.flowId, s);
    return flows.flatMap((f) => {
      const sampled = latest.get(f.id);
      if (!sampled) {
        const s = fresh.get(f.id);
        return s ? [s] : [];
      }
      const reason = f.state_reason ?? '';
      if (sampled.state === f.state && sampled.reason === reason) return [sampled.name === f.name ? sampled.status : { ...sampled.status, name: f.name }];
      return [{ ...sampled.status, name: f.name, state: f.state, reason }];
    });
  }

  /** Forgets the flows list answers reuse: the next answer reads them (call after changing a flow). */
  invalidate(): void {
    this.listed = undefined;
  }

  /** The stored flows for list answers: read at most once per {@link LIST_FRESH_MS}, one query for concurrent callers. */
  private storedFlows(): Promise<Flow[]> {
    const now = Date.now();
    const known = this.listed;
    if (known && now - known.at < (this.o.listFreshMs ?? LIST_FRESH_MS)) return known.flows;
    const flows = listAllFlows(this.o.deps.flows).then((fs) => this.mine(fs));
    const entry = { at: now, flows };
    this.listed = entry;
    flows.catch(() => {
      if (this.listed === entry) this.listed = undefined;
    });
    return flows;
  }

  private mine(flows: Flow[]): Flow[] {
    const only = this.o.only;
    return only ? flows.filter((f) => only.has(f.id)) : flows;
  }

  private async sampleOnce(): Promise<void> {
    let statuses: FlowStatus[];
    let flows: Flow[];
    try {
      flows = this.mine(await listAllFlows(this.o.deps.flows));
      statuses = await this.sampling.allOf(flows);
    } catch (e) {
      this.o.log.warn('status sample failed', { error: describeError(e) });
      return;
    }
    const stored = new Map(flows.map((f) => [f.id, f] as const));
    this.latest = new Map(
      statuses.map((s) => {
        const f = stored.get(s.flowId)!;
        return [s.flowId, { status: s, name: f.name, state: f.state, reason: f.state_reason ?? '' }] as const;
      }),
    );
    const now = Date.now();
    const present = new Set(statuses.map((s) => s.flowId));
    for (const id of [...this.history.keys()]) if (!present.has(id)) this.history.delete(id);
    for (const id of [...this.slots.keys()]) if (!present.has(id)) this.slots.delete(id);
    for (const s of statuses) {
      const h = this.history.get(s.flowId) ?? [];
      h.push({ t: now, lagBytes: s.lagBytes, lagSeconds: s.lagSeconds });
      while (h.length > 0 && h[0]!.t < now - HISTORY_MS) h.shift();
      this.history.set(s.flowId, h);
      this.warnNewAlarms(s);
    }
    updateFlowMetrics(statuses);
    await this.connections?.prune(this.sampledDsns);
  }

  private warnNewAlarms(s: FlowStatus): void {
    const before = this.raised.get(s.flowId) ?? new Set<AlarmKind>();
    const now = new Set(s.alarms.map((a) => a.kind));
    for (const a of s.alarms) if (!before.has(a.kind)) this.o.log.warn(`alarm: ${a.message}`, { flow: s.flowId, alarm: a.kind });
    for (const k of before) if (!now.has(k)) this.o.log.info('alarm cleared', { flow: s.flowId, alarm: k });
    this.raised.set(s.flowId, now);
  }
}
