import { describeError } from '../core/errors';
import type { Logger } from '../core/log';
import { allLiveCounters, rollRates, type LiveFlowCounters } from './liveCounters';
import { deltaOf, type FlowStatsStore, type StatsDelta } from './statsStore';

/** How often a process that runs flows publishes their counters (and recomputes rows/s). */
export const STATS_PUBLISH_MS = 2000;

export interface StatsPublisher {
  /** Publishes now (also used at shutdown). */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

function take(c: LiveFlowCounters): StatsDelta {
  const d = deltaOf(c);
  c.unflushed.clear();
  c.unflushedRetries = 0;
  c.dirty = false;
  return d;
}

/** Puts back what a failed publish took, so the next publish sends it again. */
function giveBack(c: LiveFlowCounters, d: StatsDelta): void {
  for (const [table, op, rows] of d.tables) {
    const k = `${table}\t${op}`;
    if (rows > 0) c.unflushed.set(k, (c.unflushed.get(k) ?? 0) + rows);
  }
  c.unflushedRetries += d.retries;
  c.dirty = true;
}

/**
 * Publishes the live counters of the flows this process runs every {@link STATS_PUBLISH_MS}, in
 * one statement for all flows with news. Off the data path: a slow or failing state database
 * delays the numbers, never the flows.
 */
export function startStatsPublisher(o: { store: FlowStatsStore; executor: string; log: Logger; intervalMs?: number }): StatsPublisher {
  const interval = o.intervalMs ?? STATS_PUBLISH_MS;
  let last = Date.now();
  let running: Promise<void> | undefined;
  let warned = false;
  const once = async (): Promise<void> => {
    const now = Date.now();
    const all = allLiveCounters();
    for (const c of all) rollRates(c, now - last);
    last = now;
    const dirty = all.filter((c) => c.dirty);
    if (dirty.length === 0) return;
    const deltas = dirty.map(take);
    try {
      await o.store.publish(deltas, o.executor);
      warned = false;
    } catch (e) {
      dirty.forEach((c, i) => giveBack(c, deltas[i]!));
      if (!warned) o.log.warn('could not publish flow stats; will retry', { error: describeError(e) });
      warned = true;
    }
  };
  const flush = (): Promise<void> => {
    running = (running ?? Promise.resolve()).then(once);
    return running;
  };
  const timer = setInterval(() => void flush(), interval);
  timer.unref();
  return {
    flush,
    stop: async () => {
      clearInterval(timer);
      await flush();
    },
  };
}
