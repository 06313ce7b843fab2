import { describeError } from '../core/errors';
import type { Logger } from '../core/log';
import type { FlowRunControl } from '../services/flows/runs';
import type { FlowStore } from '../state/flows/store';
import { flowsWithActiveRuns } from './flowQueue';
import type { RunTakeover } from './takeover';

/**
 * Keeps the flows of a server's DBOS application going, at start and every `intervalMs`:
 * - first, runs of executors that are gone (crashed servers and workers) are taken over, so a
 *   PENDING run that nobody executes does not count as active forever;
 * - then, without a schedule (`enqueueIdle`), a flow in state `running` should always have a
 *   streaming run. Runs end when the server shuts down, when a pause and a resume cross, or when a
 *   dedicated worker exits; a run is enqueued for every running flow that has none (one query for
 *   all flows, then one enqueue per idle flow).
 * Returns a function that stops it.
 */
export function startRunSupervisor(o: {
  store: FlowStore;
  runs: FlowRunControl;
  intervalMs: number;
  log: Logger;
  takeover: RunTakeover;
  enqueueIdle: boolean;
}): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async (): Promise<void> => {
    await o.takeover.tick();
    if (!o.enqueueIdle || stopped) return;
    try {
      // In this order: a worker creates its run before it marks the flow running (see workerRun.ts).
      const running = await o.store.listByState('running');
      const active = await flowsWithActiveRuns();
      for (const f of running) {
        if (stopped) return;
        if (!active.has(f.id)) await o.runs.enqueue(f.id, 'stream');
      }
    } catch (e) {
      o.log.warn('run supervisor: could not check running flows', { error: describeError(e) });
    }
  };
  const loop = async (): Promise<void> => {
    await tick();
    if (!stopped) timer = setTimeout(() => void loop(), o.intervalMs);
  };
  void loop();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
