import type { LocalCluster } from '../../tools/localpg';

export default async function globalTeardown(): Promise<void> {
  const cluster = (globalThis as { __ductstreamCluster?: LocalCluster }).__ductstreamCluster;
  if (cluster) await cluster.stop();
}
