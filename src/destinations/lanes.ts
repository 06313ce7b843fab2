/**
 * Delivery of a batch's items with up to `parallelism` concurrent lanes while keeping per-row order:
 * items with the same lane key (the row's key) always travel in the same lane, one after another,
 * in batch order. A barrier item (a truncate, which concerns every row of its table) waits until
 * every lane has delivered what came before it, is delivered alone, and only then do later items
 * start.
 *
 * When a lane fails, the other lanes stop after their current item (`stopped()` turns true), and the
 * first failure is thrown once every lane has settled, so a retry of the batch never races a
 * delivery still in flight. What was delivered before the failure may be delivered again by that
 * retry (at-least-once; event destinations carry idempotency keys for it).
 */
export interface LaneOptions<T> {
  parallelism: number;
  laneKey(item: T): string;
  isBarrier?(item: T): boolean;
}

export type LaneDelivery<T> = (items: T[], stopped: () => boolean) => Promise<void>;

export async function deliverInLanes<T>(items: readonly T[], opts: LaneOptions<T>, deliver: LaneDelivery<T>): Promise<void> {
  const lanes = Math.max(1, Math.floor(opts.parallelism));
  let failure: { error: unknown } | undefined;
  const stopped = (): boolean => failure !== undefined;
  const run = async (group: T[]): Promise<void> => {
    if (group.length === 0 || stopped()) return;
    try {
      await deliver(group, stopped);
    } catch (e) {
      failure ??= { error: e };
    }
  };
  let segment: T[][] = Array.from({ length: lanes }, () => []);
  const flush = async (): Promise<void> => {
    await Promise.all(segment.map(run));
    segment = Array.from({ length: lanes }, () => []);
  };
  for (const item of items) {
    if (opts.isBarrier?.(item)) {
      await flush();
      await run([item]);
    } else {
      segment[lanes === 1 ? 0 : laneOf(opts.laneKey(item), lanes)]!.push(item);
    }
    if (failure) break;
  }
  if (!failure) await flush();
  if (failure) throw failure.error;
}

/** FNV-1a of the key, modulo the lane count. */
export function laneOf(key: string, lanes: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % lanes;
}
