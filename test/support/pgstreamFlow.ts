/**
 * A flow from a real source table into a pgstream destination, for the end-to-end stream tests:
 * the source, the state database (flows) and the stream's own database, and a worker run that
 * moves the source's changes into the stream.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testFlow, writeFlowFile } from './flows';
import { createTestDatabase, type TestDatabase } from './pg';
import { runWorker } from './worker';

export interface PgstreamFlowFixture {
  source: TestDatabase;
  state: TestDatabase;
  streams: TestDatabase;
  /** The stream database's DSN with a password in it (the test cluster trusts any): output must mask it. */
  streamDsn: string;
  flowId: string;
  /** DUCTSTREAM_POSTGRES_DSN only: what the admin CLI needs. */
  env: NodeJS.ProcessEnv;
  /** Runs the worker until the source has no more changes; fails the test when it fails. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export const SECRET = 'sup3r-secret-pw';

export async function createPgstreamFlow(prefix: string, stream: string, format = 'json'): Promise<PgstreamFlowFixture> {
  const source = await createTestDatabase(`${prefix}_src`);
  const state = await createTestDatabase(`${prefix}_state`);
  const streams = await createTestDatabase(`${prefix}_streams`);
  const dir = mkdtempSync(join(tmpdir(), `ductstream-${prefix}-`));
  await source.query('CREATE TABLE public.orders (id bigint PRIMARY KEY, customer text NOT NULL, total numeric(12,2), note text)');
  const streamDsn = streams.dsn.replace('postgres@', `postgres:${SECRET}@`);
  const flowId = `${prefix}-flow`;
  const flowFile = writeFlowFile(
    dir,
    testFlow({
      id: flowId,
      sourceDsn: source.dsn,
      slot: `${prefix}_slot`,
      publication: `${prefix}_pub`,
      tables: ['public.orders'],
      destinations: [{ name: 'orders-stream', type: 'pgstream', options: { dsn: streamDsn, stream, format } }],
    }),
  );
  const env = { DUCTSTREAM_POSTGRES_DSN: state.dsn };
  const run = async (args: string[]) => {
    const r = await runWorker(args, env);
    if (r.code !== 0) throw new Error(`worker exited ${r.code}: ${r.stderr}`);
  };
  await run(['-flow-file', flowFile, '-max-empty-reads', '1']);
  return {
    source,
    state,
    streams,
    streamDsn,
    flowId,
    env,
    sync: () => run(['-flow-id', flowId, '-max-empty-reads', '1']),
    close: async () => {
      await source.drop();
      await state.drop();
      await streams.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
