/**
 * Kafka's default partitioner for keyed records: `toPositive(murmur2(keyBytes)) % partitionCount`,
 * the Java client's formula, which kafkajs 2.x (`Partitioners.DefaultPartitioner`) also uses; so a
 * row's records land in the same partition whichever of them produced them.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** murmur2 (32-bit, seed 0x9747b28c) of `bytes[start, end)`, as a signed 32-bit number. */
export function murmur2(bytes: Uint8Array, start = 0, end = bytes.length): number {
  const length = end - start;
  let h = SEED ^ length;
  const stop = start + (length & ~3);
  let i = start;
  for (; i < stop; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3;
  if (rest === 3) h ^= bytes[i + 2]! << 16;
  if (rest >= 2) h ^= bytes[i + 1]! << 8;
  if (rest >= 1) h = Math.imul(h ^ bytes[i]!, M);
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** murmur2 of the UTF-8 bytes of `text`; an ASCII text is hashed from its characters, without a copy. */
export function murmur2OfText(text: string): number {
  const length = text.length;
  for (let i = 0; i < length; i++) if (text.charCodeAt(i) >= 0x80) return murmur2(Buffer.from(text, 'utf8'));
  let h = SEED ^ length;
  const stop = length & ~3;
  let i = 0;
  for (; i < stop; i += 4) {
    let k = text.charCodeAt(i) | (text.charCodeAt(i + 1) << 8) | (text.charCodeAt(i + 2) << 16) | (text.charCodeAt(i + 3) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3;
  if (rest === 3) h ^= text.charCodeAt(i + 2) << 16;
  if (rest >= 2) h ^= text.charCodeAt(i + 1) << 8;
  if (rest >= 1) h = Math.imul(h ^ text.charCodeAt(i), M);
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition of a record keyed by `key` among `partitionCount` partitions (Kafka's default partitioner). */
export function partitionOfKey(key: string, partitionCount: number): number {
  return (murmur2OfText(key) & 0x7fffffff) % partitionCount;
}
