import { describeError } from '../core/errors';
import type { Logger } from '../core/log';
import { listAllFlows, probeNow, StatusCollector, type CollectorDeps, type FlowSource, type SlotSource } from './collector';
import { updateFlowMetrics } from './metrics';
import type { AlarmKind, FlowStatus, SlotStatus } from './model';

/** One point of a flow's lag chart. */
export interface LagPoint {
  /** ms since the epoch */
  t: number;
  lagBytes: number;
  lagSeconds: number;
}

/** How long the lag history reaches back. */
export const HISTORY_MS = 3_600_000;

/**
 * Samples every flow's status every `intervalMs` (server: all flows; worker: its flow): probes the
 * slots (one connection per source server), keeps the last hour of lag per flow for the chart,
 * sets the metrics, and logs a warning when an alarm is raised (once, until it clears).
 */
export class StatusSampler {
  private readonly slots = new Map<string, SlotStatus>();
  private readonly history = new Map<string, LagPoint[]>();
  private readonly raised = new Map<string, Set<AlarmKind>>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private latest: FlowStatus[] = [];
  private readonly sampling: StatusCollector;
  /** Answers requests (API, page, CLI in this process) from the latest sample's slot numbers. */
  readonly collector: StatusCollector;

  constructor(
    private readonly o: {
      deps: Omit<CollectorDeps, 'slots'>;
      intervalMs: number;
      log: Logger;
      /** Only these flows (a worker's); all when unset. */
      only?: ReadonlySet<string>;
    },
  ) {
    this.sampling = new StatusCollector({ ...o.deps, slots: this.slotsForSample });
    this.collector = new StatusCollector({ ...o.deps, slots: this.slotsCached });
  }

  /** Slot source for the sampling collector: probes and remembers. */
  readonly slotsForSample: SlotSource = async (flows) => {
    const probed = await probeNow(flows);
    for (const [flowId, s] of probed) this.slots.set(flowId, s);
    return probed;
  };

  /** Slot source for answering requests: the latest sample; flows not sampled yet are probed now. */
  readonly slotsCached: SlotSource = async (flows) => {
    const missing: FlowSource[] = flows.filter((f) => !this.slots.has(f.flowId));
    if (missing.length > 0) await this.slotsForSample(missing);
    return new Map(flows.map((f) => [f.flowId, this.slots.get(f.flowId)!] as const));
  };

  start(): void {
    const loop = async (): Promise<void> => {
      await this.sample();
      if (this.timer !== undefined) this.timer = setTimeout(() => void loop(), this.o.intervalMs).unref();
    };
    this.timer = setTimeout(() => void loop(), 0).unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
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
   * Every flow's status for list answers (ListFlowStatus, the page's list): the latest sample's
   * numbers with each flow's state and reason read now, so a state change shows at once while one
   * query serves any number of flows. Flows not sampled yet are collected now.
   */
  async list(): Promise<FlowStatus[]> {
    const flows = (await listAllFlows(this.o.deps.flows)).filter((f) => !this.o.only || this.o.only.has(f.id));
    const latest = new Map(this.latest.map((s) => [s.flowId, s]));
    const missing = flows.filter((f) => !latest.has(f.id)).map((f) => f.id);
    if (missing.length > 0) for (const s of await this.collector.all(new Set(missing))) latest.set(s.flowId, s);
    return flows.flatMap((f) => {
      const s = latest.get(f.id);
      if (!s) return [];
      const reason = f.state === s.state && (f.state_reason ?? '') === '' ? s.reason : (f.state_reason ?? '');
      return [{ ...s, name: f.name, state: f.state, reason }];
    });
  }

  private async sampleOnce(): Promise<void> {
    let statuses: FlowStatus[];
    try {
      statuses = await this.sampling.all(this.o.only);
    } catch (e) {
      this.o.log.warn('status sample failed', { error: describeError(e) });
      return;
    }
    this.latest = statuses;
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
  }

  private warnNewAlarms(s: FlowStatus): void {
    const before = this.raised.get(s.flowId) ?? new Set<AlarmKind>();
    const now = new Set(s.alarms.map((a) => a.kind));
    for (const a of s.alarms) if (!before.has(a.kind)) this.o.log.warn(`alarm: ${a.message}`, { flow: s.flowId, alarm: a.kind });
    for (const k of before) if (!now.has(k)) this.o.log.info('alarm cleared', { flow: s.flowId, alarm: k });
    this.raised.set(s.flowId, now);
  }
}
