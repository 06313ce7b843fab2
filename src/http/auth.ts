import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const TOKEN_COOKIE = 'ductstream_token';

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Whether a request to the status listener may proceed: always when no token is configured
 * (DUCTSTREAM_API_TOKEN unset); otherwise the same token as the gRPC API, sent as
 * `Authorization: Bearer <token>` (Prometheus, curl) or in the cookie the page sets after
 * `/?token=<token>`. The only auth check of the HTTP listener.
 */
export function isAuthorized(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const auth = req.headers.authorization ?? '';
  if (auth.startsWith('Bearer ') && same(auth.slice(7).trim(), token)) return true;
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === TOKEN_COOKIE && same(decodeURIComponent(v.join('=')), token)) return true;
  }
  return false;
}
