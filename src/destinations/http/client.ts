import { STATUS_CODES } from 'node:http';
import net from 'node:net';
import { Pool } from 'undici';

export interface WebhookResponse {
  status: number;
  statusText: string;
  /** From `Retry-After` (seconds or an HTTP date), when present. */
  retryAfterMs?: number;
  /** The start of the response body (for error messages; callers scrub it). */
  bodyStart: string;
}

/** A failure below HTTP: refused, reset, DNS, TLS, or the request deadline passed (`ETIMEDOUT`). */
export class TransportError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

const BODY_LIMIT = 2048;

/**
 * Sends requests to one endpoint over keep-alive connections (at most `maxSockets` at a time, one
 * request at a time on each: no pipelining). Knows nothing of retries or classification: it
 * reports what happened.
 *
 * The client is undici's connection pool: against a local Node peer it costs ~70–90 µs of CPU per
 * request where `http.request` with a keep-alive agent costs ~170 µs (bench/event-destination-
 * profile.ts). Headers travel as one flat name/value array; the fixed ones (the configured
 * `headers`, and Basic authorization from credentials in the URL unless `headers` sets
 * Authorization) are prepended from one array; `Host` comes from the URL; a 2xx answer's body is
 * drained without being decoded. `timeoutMs` bounds each whole exchange.
 */
export class WebhookClient {
  private readonly pool: Pool;
  private readonly path: string;
  /** The configured headers (and URL credentials), as name/value pairs. */
  private readonly fixed: string[];

  constructor(
    private readonly url: URL,
    private readonly timeoutMs: number,
    maxSockets: number,
    fixedHeaders: ReadonlyArray<readonly [string, string]> = [],
  ) {
    this.pool = new Pool(url.origin, {
      connections: Math.max(1, maxSockets),
      pipelining: 1,
      connect: { timeout: timeoutMs },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    this.path = `${url.pathname}${url.search}`;
    this.fixed = [];
    const hasAuthorization = fixedHeaders.some(([k]) => k.toLowerCase() === 'authorization');
    if ((url.username || url.password) && !hasAuthorization)
      this.fixed.push('Authorization', `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`);
    for (const [k, v] of fixedHeaders) this.fixed.push(k, v);
  }

  /**
   * One request; `headers` are name/value pairs (`[name1, value1, name2, value2, ...]`) added to the
   * fixed ones. Uses undici's handler API (`dispatch`): no response stream or abort signal objects.
   */
  request(method: string, headers: readonly string[], body: Uint8Array): Promise<WebhookResponse> {
    return new Promise<WebhookResponse>((resolve, reject) => {
      let abort: ((err?: Error) => void) | undefined;
      let settled = false;
      let status = 0;
      let statusText = '';
      let retryAfter: string | undefined;
      let text = '';
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        fn();
      };
      // The deadline covers the whole exchange, queueing for a connection included.
      const deadline = setTimeout(() => {
        const e = new TransportError('ETIMEDOUT', `no response within ${this.timeoutMs} ms`);
        settle(() => reject(e));
        abort?.(e);
      }, this.timeoutMs);
      this.pool.dispatch(
        { path: this.path, method: method as 'POST', headers: this.fixed.length === 0 ? (headers as string[]) : this.fixed.concat(headers), body },
        {
          onConnect: (a) => {
            abort = a;
            if (settled) a();
          },
          onHeaders: (statusCode, raw, _resume, statusMessage) => {
            status = statusCode;
            statusText = statusMessage;
            for (let i = 0; i < raw.length; i += 2) {
              const name = raw[i]!;
              if (name.length === 11 && name.toString('latin1').toLowerCase() === 'retry-after') retryAfter = raw[i + 1]!.toString('latin1');
            }
            return true;
          },
          onData: (chunk) => {
            if ((status < 200 || status >= 300) && text.length < BODY_LIMIT)
              text += chunk.toString('utf8', 0, Math.min(chunk.length, BODY_LIMIT - text.length));
            return true;
          },
          onComplete: () =>
            settle(() => resolve({ status, statusText: statusText || STATUS_CODES[status] || '', retryAfterMs: retryAfterMs(retryAfter), bodyStart: text })),
          onError: (e) => settle(() => reject(this.transportError(e))),
        },
      );
    });
  }

  /** Opens and closes one TCP connection to the endpoint (checks that something listens there). */
  probe(): Promise<void> {
    const port = Number(this.url.port) || (this.url.protocol === 'https:' ? 443 : 80);
    const host = this.url.hostname.replace(/^\[(.*)\]$/, '$1');
    return new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new TransportError('ETIMEDOUT', `no connection within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.end();
        resolve();
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(transportError(e));
      });
    });
  }

  /** Closes every connection (requests in flight fail). */
  async close(): Promise<void> {
    await this.pool.destroy().catch(() => undefined);
  }

  /** Maps undici's failures to the codes of Node's sockets (timeouts are `ETIMEDOUT`, a peer that hung up is `ECONNRESET`). */
  private transportError(e: unknown): TransportError {
    const code = (e as { code?: string }).code;
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
      return new TransportError('ETIMEDOUT', `no response within ${this.timeoutMs} ms`);
    }
    if (code === 'UND_ERR_SOCKET') return new TransportError('ECONNRESET', `connection closed by the peer (${(e as Error).message})`);
    return transportError(e);
  }
}

function transportError(e: unknown): TransportError {
  if (e instanceof TransportError) return e;
  const err = e as NodeJS.ErrnoException;
  return new TransportError(err.code ?? 'EIO', err.message ?? String(e));
}

/** `Retry-After: 120` or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT` → milliseconds from now. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
