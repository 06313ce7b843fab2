import type { EncodedBatch, Destination } from '../destinations/destination';

/**
 * Writes one batch to every destination, at most `parallelism` at a time. Resolves when every
 * destination has durably written it; rejects with the first failure after the others settle, so a
 * retry never races a write still in flight.
 */
export async function writeToAll(destinations: Destination[], batch: EncodedBatch, parallelism: number): Promise<void> {
  let next = 0;
  let failure: unknown;
  const lane = async (): Promise<void> => {
    while (next < destinations.length) {
      const d = destinations[next++]!;
      try {
        await d.write(batch);
      } catch (e) {
        failure ??= e;
      }
    }
  };
  const lanes = Array.from({ length: Math.max(1, Math.min(parallelism, destinations.length)) }, lane);
  await Promise.all(lanes);
  if (failure !== undefined) throw failure as Error;
}
