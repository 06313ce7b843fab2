import type { CheckpointStore, Checkpoint } from '../state/checkpoint/store';
import type { Flow } from '../core/flow';
import { formatLsn } from '../core/lsn';
import type { FlowStore } from '../state/flows/store';
import { parsePostgresSourceConfig, POSTGRES_SOURCE_DEFAULTS, type MonitoringConfig } from '../source/postgres/config';
import { alarmsOf, lagSecondsOf } from './alarms';
import type { FlowStatus, SlotStatus, StatusExtension } from './model';
import type { RunHistory } from './runHistory';
import { probeSlots, shortConnectionQuery, type SourceQuery } from './slotProbe';
import type { FlowStatsStore, PersistedFlowStats } from './statsStore';

/** Where slot numbers come from: probed now (CLI), or the server's latest sample. */
export type SlotSource = (flows: readonly FlowSource[]) => Promise<Map<string, SlotStatus>>;

/** A flow's source as the status needs it: parsed once per definition. */
export interface FlowSource {
  flowId: string;
  dsn: string;
  slot: string;
  monitoring: MonitoringConfig;
}

const DEFAULT_MONITORING: MonitoringConfig = {
  heartbeatIntervalMs: POSTGRES_SOURCE_DEFAULTS.heartbeatIntervalMs,
  lagAlarmBytes: POSTGRES_SOURCE_DEFAULTS.lagAlarmBytes,
  lagAlarmSeconds: POSTGRES_SOURCE_DEFAULTS.lagAlarmSeconds,
  stallAlarmMs: POSTGRES_SOURCE_DEFAULTS.stallAlarmMs,
};

/** The source of a flow (null when its options no longer parse: its status says so through its slot error). */
export function flowSourceOf(f: Flow): FlowSource | null {
  try {
    const c = parsePostgresSourceConfig(f.source.options, 'source.options');
    return { flowId: f.id, dsn: c.dsn, slot: c.slot, monitoring: c.monitoring };
  } catch {
    return null;
  }
}

/** Every flow, ordered by id. */
export async function listAllFlows(store: FlowStore): Promise<Flow[]> {
  const out: Flow[] = [];
  let token = '';
  do {
    const page = await store.list(1000, token);
    out.push(...page.flows);
    token = page.nextPageToken;
  } while (token);
  return out;
}

/** Reads every flow's slots now through `query`: one query per source server, whatever the number of flows. */
export function slotsVia(query: SourceQuery): SlotSource {
  return async (flows) => {
    const byDsn = new Map<string, FlowSource[]>();
    for (const f of flows) {
      const same = byDsn.get(f.dsn);
      if (same) same.push(f);
      else byDsn.set(f.dsn, [f]);
    }
    const out = new Map<string, SlotStatus>();
    await Promise.all(
      [...byDsn].map(async ([dsn, fs]) => {
        const slots = await probeSlots(
          dsn,
          fs.map((f) => f.slot),
          query,
        );
        for (const f of fs) out.set(f.flowId, slots.get(f.slot)!);
      }),
    );
    return out;
  };
}

/** Probes every flow's slot now, one short connection per source server (one-shot readers). */
export const probeNow: SlotSource = slotsVia(shortConnectionQuery());

export interface CollectorDeps {
  flows: FlowStore;
  checkpoints: CheckpointStore;
  stats: FlowStatsStore;
  /** DBOS records; null when the process cannot read them (no system database). */
  runs: RunHistory | null;
  slots: SlotSource;
  extensions?: StatusExtension[];
}

/**
 * Builds the {@link FlowStatus} of flows from the state database (flows, checkpoints, published
 * stats), the source servers (slots) and DBOS (runs). The one place the status model is filled.
 */
export class StatusCollector {
  /** Parsed sources by flow id, kept while the flow's source options stay the same (parsing validates every option). */
  private readonly sources = new Map<string, { options: string; source: FlowSource | null }>();

  constructor(private readonly d: CollectorDeps) {}

  /** Every flow's status, or only those of `only` (no runs or steps: see {@link one}). */
  async all(only?: ReadonlySet<string>): Promise<FlowStatus[]> {
    const flows = (await listAllFlows(this.d.flows)).filter((f) => !only || only.has(f.id));
    return this.allOf(flows);
  }

  /**
   * The status of `flows` (read by the caller), with a constant number of queries whatever their
   * number: checkpoints, published stats (two), active DBOS runs, pending DDL, and one slot query
   * per source server.
   */
  async allOf(flows: readonly Flow[]): Promise<FlowStatus[]> {
    const [checkpoints, stats, active] = await Promise.all([this.d.checkpoints.list(), this.d.stats.read(), this.activeRuns()]);
    const present = new Set(flows.map((f) => f.id));
    for (const id of [...this.sources.keys()]) if (!present.has(id)) this.sources.delete(id);
    return this.build(flows, checkpoints, stats, active);
  }

  /** One flow's status with its recent runs and their steps; null when the flow does not exist. */
  async one(flowId: string): Promise<FlowStatus | null> {
    const flow = await this.d.flows.get(flowId);
    if (!flow) return null;
    const [checkpoints, stats, runs] = await Promise.all([
      this.d.checkpoints.list(flowId),
      this.d.stats.read(flowId),
      this.d.runs?.recent(flowId).catch(() => []) ?? Promise.resolve([]),
    ]);
    const active = runs.find((r) => ['PENDING', 'ENQUEUED', 'DELAYED'].includes(r.status));
    const [status] = await this.build([flow], checkpoints, stats, new Map(active ? [[flowId, active.runId]] : []));
    status!.runs = runs;
    return status!;
  }

  private async activeRuns(): Promise<Map<string, string>> {
    if (!this.d.runs) return new Map();
    return this.d.runs.active().catch(() => new Map<string, string>());
  }

  /** The parsed source of a flow, from the cache while its options are unchanged. */
  private sourceOf(f: Flow): FlowSource | null {
    const options = JSON.stringify(f.source.options);
    const known = this.sources.get(f.id);
    if (known && known.options === options) return known.source;
    const source = flowSourceOf(f);
    this.sources.set(f.id, { options, source });
    return source;
  }

  private async build(
    flows: readonly Flow[],
    checkpoints: Checkpoint[],
    stats: Map<string, PersistedFlowStats>,
    active: Map<string, string>,
  ): Promise<FlowStatus[]> {
    const now = new Date();
    const sources = flows.map((f) => this.sourceOf(f));
    const slots = await this.d.slots(sources.filter((s): s is FlowSource => s !== null));
    const byKey = new Map(checkpoints.map((c) => [`${c.flowId}\t${c.slot}`, c] as const));
    const out = flows.map((f, i) => {
      const src = sources[i]!;
      const cp = src ? byKey.get(`${f.id}\t${src.slot}`) : undefined;
      const st = stats.get(f.id);
      const slot = slots.get(f.id) ?? null;
      const s = statusOf(f, cp, st, slot, active.get(f.id) ?? '', now);
      s.alarms = alarmsOf(s, src?.monitoring ?? DEFAULT_MONITORING, now);
      return s;
    });
    // An extension that fails leaves its fields empty: the rest of the status is still worth showing.
    for (const ext of this.d.extensions ?? []) await ext.extend(out).catch(() => undefined);
    return out;
  }
}

/** The `retrying: …` reason of a running flow whose last failure is newer than its last progress. */
function reasonOf(f: Flow, st: PersistedFlowStats | undefined, cp: Checkpoint | undefined): string {
  const reason = f.state_reason ?? '';
  if (f.state !== 'running' || reason.startsWith('retrying:') || !st?.lastErrorAt) return reason;
  const progress = Math.max(st.caughtUpAt?.getTime() ?? 0, cp?.updatedAt.getTime() ?? 0);
  return st.lastErrorAt.getTime() > progress ? `retrying: ${st.lastError}` : reason;
}

function statusOf(
  f: Flow,
  cp: Checkpoint | undefined,
  st: PersistedFlowStats | undefined,
  slot: SlotStatus | null,
  activeRunId: string,
  now: Date,
): FlowStatus {
  const lagBytes = slot?.lagBytes ?? 0;
  const rows = st?.tables ?? [];
  const lastAppliedCommitAt = st?.lastAppliedCommitAt ?? null;
  return {
    flowId: f.id,
    name: f.name,
    state: f.state,
    reason: reasonOf(f, st, cp),
    checkpointLsn: cp ? formatLsn(cp.lsn) : null,
    checkpointAt: cp?.updatedAt ?? null,
    receivedLsn: st?.receivedLsn ?? null,
    slot,
    lagBytes,
    lagSeconds: lagSecondsOf({ lagBytes, state: f.state, lastAppliedCommitAt, caughtUpAt: st?.caughtUpAt ?? null, now }),
    lastAppliedCommitTime: lastAppliedCommitAt,
    rows,
    rowsTotal: rows.reduce((a, r) => a + r.rows, 0),
    rowsPerSecond: Math.round(rows.reduce((a, r) => a + r.rowsPerSecond, 0) * 10) / 10,
    lastError: st?.lastError ?? '',
    lastErrorHint: st?.lastErrorHint ?? '',
    lastErrorAt: st?.lastErrorAt ?? null,
    retries: st?.retries ?? 0,
    heartbeatLsn: st?.heartbeatLsn ?? null,
    heartbeatAt: st?.heartbeatAt ?? null,
    alarms: [],
    runs: [],
    activeRunId,
    pendingDdl: [],
    backfill: [],
    sampledAt: slot?.sampledAt ?? now,
  };
}
