import { invalidArgument } from '../core/errors';

/**
 * Turns DUCTSTREAM_GRPC_LISTEN into a grpc-js bind address: `:8080` (every interface, as in Go)
 * → `0.0.0.0:8080`; `host:port` and `[v6]:port` as given. Port 0 picks a free port.
 */
export function parseListenAddress(value: string, field = 'DUCTSTREAM_GRPC_LISTEN'): string {
  const v = value.trim();
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]*):(\d{1,5})$/.exec(v);
  if (!m) throw invalidArgument(field, `"${value}" is not a listen address`, 'use :8080 (every interface) or host:port, e.g. 127.0.0.1:8080');
  const port = Number(m[2]);
  if (port > 65535) throw invalidArgument(field, `port ${port} is out of range`, 'use a port from 0 to 65535 (0 picks a free one)');
  return `${m[1] || '0.0.0.0'}:${port}`;
}
