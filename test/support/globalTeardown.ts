import type { LocalCluster } from '../../src/localpg/cluster';

export default async function globalTeardown(): Promise<void> {
  const cluster = (globalThis as { __ductstreamCluster?: LocalCluster }).__ductstreamCluster;
  if (cluster) await cluster.stop();
}
