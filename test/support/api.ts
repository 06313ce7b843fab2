/**
 * A real `./bin/ductstream` process and a real grpc-js client of it, for the API tests: the server
 * listens on a free port (DUCTSTREAM_GRPC_LISTEN=127.0.0.1:0) and prints the bound address.
 */
import { credentials, loadPackageDefinition, Metadata, type ChannelCredentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadApiProtos } from '../../src/api/protos';
import { REPO_ROOT, spawnBin, type SpawnedProcess } from './worker';

export const SERVER_BIN = join(REPO_ROOT, 'bin', 'ductstream');

export interface ApiServerProcess {
  proc: SpawnedProcess;
  address: string;
  /** SIGTERM, then waits for the exit (SIGKILL after `ms`). */
  stop(ms?: number): Promise<void>;
  /** kill -9. */
  kill(): Promise<void>;
}

/**
 * Starts the server and resolves once it serves (its "serving gRPC on HOST:PORT" line). Its data
 * directory (DUCTSTREAM_DATA_DIR, where flows created through the API may put files) is the system
 * temp directory unless `env` says otherwise, so tests keep their DuckDB files in mkdtemp dirs.
 */
export async function startApiServer(env: NodeJS.ProcessEnv): Promise<ApiServerProcess> {
  const proc = spawnBin(SERVER_BIN, [], { DUCTSTREAM_GRPC_LISTEN: '127.0.0.1:0', DUCTSTREAM_DATA_DIR: tmpdir(), ...env });
  await proc.waitForStderr(/serving gRPC on \S+/, 60_000);
  const address = /serving gRPC on (\S+)/.exec(proc.output().stderr)![1]!;
  const exited = async (ms: number) => {
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), ms);
    await proc.exited;
    clearTimeout(timer);
  };
  return {
    proc,
    address,
    stop: async (ms = 30_000) => {
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGTERM');
      await exited(ms);
    },
    kill: async () => {
      proc.child.kill('SIGKILL');
      await exited(5_000);
    },
  };
}

type Unary = (req: unknown, md: Metadata, cb: (err: ServiceError | null, res: unknown) => void) => void;

/** A promisified grpc-js client of ductstream.v1.FlowService. */
export interface FlowClient {
  call<T = Record<string, unknown>>(method: string, req: Record<string, unknown>): Promise<T>;
  /** Calls a method that must fail; resolves with its error. */
  fail(method: string, req: Record<string, unknown>): Promise<ServiceError>;
  close(): void;
}

/** How a test client connects: TLS credentials (default plaintext) and a bearer token to send. */
export interface ClientAuth {
  credentials?: ChannelCredentials;
  /** Sent as `authorization: Bearer <token>`. */
  token?: string;
  /** Sent as the whole `authorization` value (to test malformed headers). */
  authorization?: string;
}

export function flowClient(address: string, service = 'FlowService', auth: ClientAuth = {}): FlowClient {
  const pkg = loadPackageDefinition(loadApiProtos()) as unknown as {
    ductstream: { v1: Record<string, new (addr: string, creds: ChannelCredentials) => Client> };
  };
  const client = new pkg.ductstream.v1[service]!(address, auth.credentials ?? credentials.createInsecure());
  const metadata = (): Metadata => {
    const md = new Metadata();
    const value = auth.authorization ?? (auth.token !== undefined ? `Bearer ${auth.token}` : undefined);
    if (value !== undefined) md.set('authorization', value);
    return md;
  };
  const invoke = (method: string, req: Record<string, unknown>) =>
    new Promise<{ err: ServiceError | null; res: unknown }>((resolve) => {
      const fn = (client as unknown as Record<string, Unary>)[method];
      if (!fn) throw new Error(`no method ${method}`);
      fn.call(client, req, metadata(), (err, res) => resolve({ err, res }));
    });
  return {
    call: async <T>(method: string, req: Record<string, unknown>) => {
      const { err, res } = await invoke(method, req);
      if (err) throw new Error(`${method} failed: ${err.code} ${err.details}`);
      return res as T;
    },
    fail: async (method, req) => {
      const { err, res } = await invoke(method, req);
      if (!err) throw new Error(`${method} succeeded but should have failed: ${JSON.stringify(res)}`);
      return err;
    },
    close: () => client.close(),
  };
}

/** Polls `fn` until it returns a truthy value (or throws after `timeoutMs`). */
export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
