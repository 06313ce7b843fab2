import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHttpPeer, type HttpPeer } from './peers/httpPeer';
import { startKafkaBroker, type KafkaBroker } from './peers/kafkaBroker';
import { createTestDatabase, type TestDatabase } from './pg';
import { runWorker } from './worker';

/** The peers and databases of an event key-move test file; set once the file's beforeAll ran. */
export interface EventKeyFixture {
  broker: KafkaBroker;
  peer: HttpPeer;
  source: TestDatabase;
  state: TestDatabase;
  dir: string;
}

/**
 * Registers, in the calling test file, a beforeAll that starts the kcat mock broker, an HTTP peer,
 * a source and a state database (`<prefix>_src`, `<prefix>_state`) and a temporary directory, and
 * an afterAll that stops and removes them.
 */
export function useEventKeyFixture(prefix: string): EventKeyFixture {
  const f = {} as Partial<EventKeyFixture>;
  beforeAll(async () => {
    f.broker = await startKafkaBroker();
    f.peer = await startHttpPeer();
    f.source = await createTestDatabase(`${prefix}_src`);
    f.state = await createTestDatabase(`${prefix}_state`);
    f.dir = mkdtempSync(join(tmpdir(), `ductstream-${prefix}-`));
  }, 60_000);
  afterAll(async () => {
    await f.broker?.stop();
    await f.peer?.close();
    await f.source?.drop();
    await f.state?.drop();
    if (f.dir) rmSync(f.dir, { recursive: true, force: true });
  });
  return f as EventKeyFixture;
}

/** `id|v` of a row read back from the source, a topic or a webhook. */
export const idValueRow = (r: Record<string, unknown>): string => `${String(r.id)}|${String(r.v)}`;

/**
 * Runs the worker with `args` until it has caught up (`-max-empty-reads 1`), writing 3 changes at a
 * time (so swaps are cut across writes); returns its stderr, or throws with its end on a non-zero exit.
 */
export function caughtUpRunner(f: EventKeyFixture): (args: string[]) => Promise<string> {
  const env = { DUCTSTREAM_POSTGRES_DSN: f.state.dsn, DUCTSTREAM_MAX_WRITE_ROWS: '3' };
  return async (args) => {
    const r = await runWorker([...args, '-max-empty-reads', '1'], env, 240_000);
    if (r.code !== 0) throw new Error(`worker exited ${r.code}: ${r.stderr.slice(-3000)}`);
    return r.stderr;
  };
}
