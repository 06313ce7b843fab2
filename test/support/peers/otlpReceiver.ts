/**
 * An in-process OTLP/HTTP receiver (protobuf, as DBOS's exporters send it): collects the span
 * names and attributes of POST /v1/traces and the log records (severity, body, string attributes)
 * of POST /v1/logs. Decodes the
 * few OTLP fields it needs with protobufjs's wire reader.
 */
import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { Reader } from 'protobufjs';

export interface ReceivedSpan {
  name: string;
  attributes: Record<string, string>;
}

export interface ReceivedLog {
  severity: string;
  body: string;
  attributes: Record<string, string>;
}

export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  logRecords: number;
  logs: ReceivedLog[];
  close(): Promise<void>;
}

/** Calls `fn(field, reader-for-the-field)` for every length-delimited field; skips the others. */
function fields(buf: Uint8Array, fn: (field: number, body: Uint8Array) => void): void {
  const r = Reader.create(buf);
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (wire === 2) fn(field, r.bytes());
    else r.skipType(wire);
  }
}

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

function keyValue(b: Uint8Array): [string, string] {
  let key = '';
  let value = '';
  fields(b, (f, body) => {
    if (f === 1) key = text(body);
    if (f === 2) fields(body, (vf, vb) => (vf === 1 ? (value = text(vb)) : undefined)); // AnyValue.string_value
  });
  return [key, value];
}

function spansOf(req: Uint8Array): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  fields(req, (f, resourceSpans) => {
    if (f !== 1) return;
    fields(resourceSpans, (f2, scopeSpans) => {
      if (f2 !== 2) return;
      fields(scopeSpans, (f3, span) => {
        if (f3 !== 2) return;
        const s: ReceivedSpan = { name: '', attributes: {} };
        fields(span, (sf, body) => {
          if (sf === 5) s.name = text(body);
          if (sf === 9) {
            const [k, v] = keyValue(body);
            s.attributes[k] = v;
          }
        });
        out.push(s);
      });
    });
  });
  return out;
}

function logsOf(req: Uint8Array): ReceivedLog[] {
  const out: ReceivedLog[] = [];
  fields(req, (f, resourceLogs) => {
    if (f !== 1) return;
    fields(resourceLogs, (f2, scopeLogs) => {
      if (f2 !== 2) return;
      fields(scopeLogs, (f3, record) => {
        if (f3 !== 2) return;
        const l: ReceivedLog = { severity: '', body: '', attributes: {} };
        fields(record, (rf, body) => {
          if (rf === 3) l.severity = text(body);
          if (rf === 5) fields(body, (vf, vb) => (vf === 1 ? (l.body = text(vb)) : undefined)); // AnyValue.string_value
          if (rf === 6) {
            const [k, v] = keyValue(body);
            l.attributes[k] = v;
          }
        });
        out.push(l);
      });
    });
  });
  return out;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const received: OtlpReceiver = { url: '', spans: [], logRecords: 0, logs: [], close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      if (req.url === '/v1/traces') received.spans.push(...spansOf(body));
      if (req.url === '/v1/logs') {
        const logs = logsOf(body);
        received.logs.push(...logs);
        received.logRecords += logs.length;
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address() as { port: number };
  received.url = `http://127.0.0.1:${addr.port}`;
  received.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return received;
}
