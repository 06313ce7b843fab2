import type { Flow } from '../../core/flow';
import { pgstreamTargetOf } from '../../pgstream/config';
import type { FlowStore } from '../../state/flows/store';

/** Where a stream lives: the DSN of the pgstream destination(s) that write it. */
export interface StreamLocation {
  stream: string;
  dsn: string;
  /** Ids of the flows whose pgstream destinations write this stream at this DSN. */
  flowIds: string[];
}

/** The pgstream streams a set of flows write, one entry per (stream, DSN). Invalid destinations are skipped. */
export function streamLocationsOf(flows: readonly Flow[]): StreamLocation[] {
  const byKey = new Map<string, StreamLocation>();
  for (const flow of flows) {
    flow.destinations.forEach((d, i) => {
      if (d.type !== 'pgstream') return;
      let target: { stream: string; dsn: string };
      try {
        target = pgstreamTargetOf(d, `destinations[${i}].options`);
      } catch {
        return;
      }
      const key = `${target.stream}\u0000${target.dsn}`;
      const loc = byKey.get(key) ?? { stream: target.stream, dsn: target.dsn, flowIds: [] };
      if (!loc.flowIds.includes(flow.id)) loc.flowIds.push(flow.id);
      byKey.set(key, loc);
    });
  }
  return [...byKey.values()].sort((a, b) => a.stream.localeCompare(b.stream) || a.dsn.localeCompare(b.dsn));
}

/**
 * Finds streams through the flows that write them (DUCTSTREAM_POSTGRES_DSN): a stream is the
 * `stream` option (or the name) of a flow destination of type pgstream, at that destination's DSN.
 * Lookups within `cacheMs` of the previous one reuse its flow listing.
 */
export class FlowStreamLocator {
  private cached?: { at: number; locations: StreamLocation[] };

  constructor(
    private readonly flows: FlowStore,
    private readonly cacheMs = 0,
  ) {}

  async all(): Promise<StreamLocation[]> {
    if (this.cached && Date.now() - this.cached.at < this.cacheMs) return this.cached.locations;
    const flows: Flow[] = [];
    let token = '';
    do {
      const page = await this.flows.list(500, token);
      flows.push(...page.flows);
      token = page.nextPageToken;
    } while (token !== '');
    const locations = streamLocationsOf(flows);
    this.cached = { at: Date.now(), locations };
    return locations;
  }

  /** Every location of `stream` (several when flows write streams of that name into different databases). */
  async find(stream: string): Promise<StreamLocation[]> {
    return (await this.all()).filter((l) => l.stream === stream);
  }
}
