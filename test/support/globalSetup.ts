import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startLocalCluster, type LocalCluster } from '../../tools/localpg';

/** Starts one private PostgreSQL (wal_level=logical) for the whole jest run; test files each get a database. */
export default async function globalSetup(): Promise<void> {
  const cluster: LocalCluster = await startLocalCluster();
  (globalThis as { __ductstreamCluster?: LocalCluster }).__ductstreamCluster = cluster;
  process.env.DUCTSTREAM_TEST_PG_PORT = String(cluster.port);
  // Servers started by tests run in parallel: their status pages take free ports, never the default 8081.
  process.env.DUCTSTREAM_HTTP_LISTEN ??= '127.0.0.1:0';
  const dir = join(__dirname, '..', '..', '.tmp');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'test-cluster.json'), JSON.stringify({ port: cluster.port, dataDir: cluster.dataDir }));
}
