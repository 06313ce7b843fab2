/**
 * Secret masking. Every message that may reach a log, a CLI's output or an API response goes
 * through here: DSN passwords (`postgres://user:pass@host`, also with an unencoded `@` in the
 * password), `password=...`/`sslpassword=...` key/value DSNs, secret query parameters and
 * token-like path segments of web URLs (webhooks: `/services/T../B../secret`, `?code=`, `?sig=`,
 * `?token=`), and values of sensitive headers or options.
 */

/** `scheme://user:password@`: the password runs to the last `@` before the path (an unencoded `@` stays inside). */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):([^/\s]*)@/gi;
const SECRET_NAME = '(?:[a-z_]*password|passwd|pwd|[a-z_]*secret|[a-z_]*token|api_?key|secret_access_key|access_key_secret|sig|signature)';
const KV_PASSWORD = new RegExp(`(\\b${SECRET_NAME}\\s*=\\s*)('[^']*'|"[^"]*"|[^\\s&;,]+)`, 'gi');
/** The same names as JSON members: `"sasl_password": "..."`. */
const JSON_SECRET = new RegExp(`("${SECRET_NAME}"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`, 'gi');
const AUTH_HEADER = /((?:authorization|proxy-authorization|x-api-key|api-key|cookie)\s*:\s*)([^,\n]+)/gi;
/** Query parameters that carry a credential in webhook and signed URLs (Azure `code`/`sig`, `token`, `key`, AWS/GCS signatures). */
const QUERY_SECRET =
  /([?&](?:code|sig|signature|token|access_token|key|api_key|apikey|auth|secret|password|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential)=)([^&#\s]*)/gi;
/** A web URL: scheme and authority, then its path. */
const WEB_URL = /(\b(?:https?|wss?):\/\/)([^\s/?#]+)(\/[^\s?#]*)?/gi;

export const MASK = '****';

/**
 * A path segment that looks like a credential: 16+ URL-safe characters mixing letters and digits
 * (webhook tokens, signatures, keys), or any 32+ such characters.
 */
function isTokenLike(segment: string): boolean {
  if (!/^[A-Za-z0-9_-]+$/.test(segment)) return false;
  if (segment.length >= 32) return true;
  return segment.length >= 16 && /[0-9]/.test(segment) && /[A-Za-z]/.test(segment);
}

/** Masks the token-like segments of a URL path; a Slack webhook's last segment is always masked. */
function maskUrlPath(authority: string, path: string): string {
  const host = authority.slice(authority.lastIndexOf('@') + 1).toLowerCase();
  const segments = path.split('/');
  const slackHook = /(^|\.)slack\.com(:\d+)?$/.test(host) && segments[1] === 'services';
  return segments
    .map((seg, i) => {
      if (seg === '' || seg === MASK) return seg;
      if (slackHook && i === segments.length - 1 && i >= 3) return MASK;
      return isTokenLike(seg) ? MASK : seg;
    })
    .join('/');
}

/** Replaces secrets inside free text. Idempotent. */
export function redactSecrets(text: string): string {
  return text
    .replace(WEB_URL, (_m, scheme: string, authority: string, path: string | undefined) => `${scheme}${authority}${path ? maskUrlPath(authority, path) : ''}`)
    .replace(URL_PASSWORD, (_m, pre: string) => `${pre}:${MASK}@`)
    .replace(QUERY_SECRET, (_m, pre: string) => `${pre}${MASK}`)
    .replace(KV_PASSWORD, (_m, pre: string) => `${pre}${MASK}`)
    .replace(JSON_SECRET, (_m, pre: string) => `${pre}"${MASK}"`)
    .replace(AUTH_HEADER, (_m, pre: string) => `${pre}${MASK}`);
}

/** Masks the password of a URL-style or key/value DSN. */
export function maskDsn(dsn: string): string {
  return redactSecrets(dsn);
}

/** Option keys whose whole value is secret. */
const SECRET_OPTION_KEYS = /(password|secret|token|api_key|apikey|credential|private_key|access_key)/i;
/** Option keys that hold DSNs or header lists, whose embedded secrets are masked. */
const MASKED_INSIDE_KEYS = /(dsn|url|uri|headers|endpoint|brokers)$/i;

/** Option keys that hold `Key:Value,...` header lists: every value is masked, names stay. */
const HEADER_LIST_KEYS = /(^|_)headers$/i;

/** `Authorization:Bearer x,X-Team:a` → `Authorization:****,X-Team:****` (an entry without `:` is masked whole). */
export function maskHeaderValues(list: string): string {
  return list
    .split(',')
    .map((entry) => {
      const colon = entry.indexOf(':');
      if (entry.trim() === '') return entry;
      return colon < 0 ? MASK : `${entry.slice(0, colon)}:${MASK}`;
    })
    .join(',');
}

/** Returns a copy of a connector options map that is safe to show: secrets masked. */
export function maskOptions(options: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(options)) {
    if (SECRET_OPTION_KEYS.test(k)) out[k] = v === '' ? '' : MASK;
    else if (HEADER_LIST_KEYS.test(k)) out[k] = maskHeaderValues(v);
    else if (MASKED_INSIDE_KEYS.test(k)) out[k] = redactSecrets(v);
    else out[k] = v;
  }
  return out;
}
