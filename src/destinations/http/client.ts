import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

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
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'TransportError';
  }
}

const BODY_LIMIT = 2048;

/**
 * Sends requests to one endpoint over keep-alive connections (at most `maxSockets` at a time).
 * Knows nothing of retries or classification: it reports what happened.
 *
 * Per request it does as little as Node's http client allows: the options (host, port, path,
 * agent) are built once, headers travel as a flat name/value array (no per-header `setHeader`
 * map), the fixed headers (`Host`, the configured `headers`) are prepended from one array, and a
 * 2xx answer's body is drained without being decoded.
 */
export class WebhookClient {
  private readonly agent: http.Agent;
  private readonly send: typeof http.request;
  private readonly base: http.RequestOptions;
  /** `Host` and the configured headers, as name/value pairs. */
  private readonly fixed: string[];

  constructor(private readonly url: URL, private readonly timeoutMs: number, maxSockets: number, fixedHeaders: ReadonlyArray<readonly [string, string]> = []) {
    const https_ = url.protocol === 'https:';
    const Agent = https_ ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: Math.max(1, maxSockets), scheduling: 'fifo' });
    this.send = https_ ? https.request : http.request;
    this.base = {
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      agent: this.agent,
      // With array headers Node adds no Host: it is the first fixed header. Basic credentials in the URL become Authorization, as Node does.
      setHost: false,
    };
    this.fixed = ['Host', url.host];
    const hasAuthorization = fixedHeaders.some(([k]) => k.toLowerCase() === 'authorization');
    if ((url.username || url.password) && !hasAuthorization) this.fixed.push('Authorization', `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`);
    for (const [k, v] of fixedHeaders) this.fixed.push(k, v);
  }

  /** One request; `headers` are name/value pairs (`[name1, value1, name2, value2, ...]`) added to the fixed ones. */
  request(method: string, headers: readonly string[], body: Uint8Array): Promise<WebhookResponse> {
    const all = this.fixed.concat(headers);
    all.push('Content-Length', String(body.byteLength));
    return new Promise<WebhookResponse>((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        fn();
      };
      const req = this.send({ ...this.base, method, headers: all }, (res) => {
        const status = res.statusCode ?? 0;
        let text = '';
        if (status >= 200 && status < 300) res.resume();
        else {
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (text.length < BODY_LIMIT) text += chunk.slice(0, BODY_LIMIT - text.length);
          });
        }
        res.on('end', () => finish(() => resolve({ status, statusText: res.statusMessage ?? '', retryAfterMs: retryAfterMs(res.headers['retry-after']), bodyStart: text })));
        res.on('error', (e) => finish(() => reject(transportError(e))));
      });
      const deadline = setTimeout(() => {
        const e = new TransportError('ETIMEDOUT', `no response within ${this.timeoutMs} ms`);
        finish(() => reject(e));
        req.destroy(e);
      }, this.timeoutMs);
      req.on('error', (e) => finish(() => reject(transportError(e))));
      req.end(body);
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

  close(): void {
    this.agent.destroy();
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
