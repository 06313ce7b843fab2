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
 * (DUCTSTREAM_API_TOKEN unset); otherwise one of the gRPC API's tokens, sent as
 * `Authorization: Bearer <token>` (Prometheus, curl) or in the cookie the page sets after
 * `/?token=<token>`. The only auth check of the HTTP listener.
 */
export function isAuthorized(req: IncomingMessage, tokens: readonly string[]): boolean {
  if (tokens.length === 0) return true;
  const accepted = (given: string) => tokens.some((t) => same(given, t));
  const auth = req.headers.authorization ?? '';
  if (/^bearer /i.test(auth) && accepted(auth.slice(7).trim())) return true;
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === TOKEN_COOKIE && accepted(decodeURIComponent(v.join('=')))) return true;
  }
  return false;
}
