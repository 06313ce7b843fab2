/**
 * A real webhook endpoint for tests (Node's http server) that can fail, delay and reset
 * connections on demand. Every request is recorded with what the peer did about it, so a test can
 * tell deliveries (answered 2xx) from failed attempts.
 *
 *   const peer = await startHttpPeer();
 *   peer.failNext({ status: 503 }, { reset: true });          // the next two requests fail
 *   peer.setPolicy((req, n) => (n % 10 === 0 ? { status: 429, retryAfter: '1' } : undefined));
 *   ... peer.delivered('/hook') ...
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault =
  /** Answer with this status (and Retry-After, body). */
  | { status: number; retryAfter?: string; body?: string }
  /** Read the request, then destroy the connection without answering. */
  | { reset: true }
  /** Answer 200 after this delay (a client with a shorter timeout gives up: the peer still got it). */
  | { delayMs: number };

export interface RecordedRequest {
  /** 1-based arrival number across the peer. */
  n: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** What the peer did: the status it answered, or `reset`. */
  outcome: number | 'reset';
  receivedAt: number;
}

export type FaultPolicy = (req: Omit<RecordedRequest, 'outcome'>, n: number) => Fault | undefined;

export interface HttpPeer {
  /** Base URL, e.g. `http://127.0.0.1:PORT`. */
  url: string;
  /** Every request so far (attempts included), in arrival order. */
  requests: RecordedRequest[];
  /** Requests answered 2xx (optionally for one path), in arrival order. */
  delivered(path?: string): RecordedRequest[];
  /** Faults for the next requests, one each, before the policy applies. */
  failNext(...faults: Fault[]): void;
  setPolicy(policy: FaultPolicy | undefined): void;
  reset(): void;
  close(): Promise<void>;
}

export async function startHttpPeer(): Promise<HttpPeer> {
  const requests: RecordedRequest[] = [];
  const queue: Fault[] = [];
  let policy: FaultPolicy | undefined;
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen = {
        n: ++n,
        method: req.method ?? '',
        path: (req.url ?? '').split('?')[0]!,
        headers: req.headers,
        body: Buffer.concat(chunks),
        receivedAt: Date.now(),
      };
      const fault = queue.shift() ?? policy?.(seen, seen.n);
      if (fault && 'reset' in fault) {
        requests.push({ ...seen, outcome: 'reset' });
        req.socket.destroy();
        return;
      }
      if (fault && 'status' in fault) {
        requests.push({ ...seen, outcome: fault.status });
        res.writeHead(fault.status, fault.retryAfter !== undefined ? { 'Retry-After': fault.retryAfter } : {});
        res.end(fault.body ?? '');
        return;
      }
      requests.push({ ...seen, outcome: 200 });
      const answer = (): void => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"ok":true}');
      };
      if (fault && 'delayMs' in fault) setTimeout(answer, fault.delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    delivered: (path) =>
      requests.filter((r) => typeof r.outcome === 'number' && r.outcome >= 200 && r.outcome < 300 && (path === undefined || r.path === path)),
    failNext: (...faults) => void queue.push(...faults),
    setPolicy: (p) => void (policy = p),
    reset: () => {
      requests.length = 0;
      queue.length = 0;
      policy = undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
