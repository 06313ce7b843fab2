/**
 * Secret masking. Every message that may reach a log, a CLI's output or an API response goes
 * through here: DSN passwords (`postgres://user:pass@host`), `password=...` key/value DSNs,
 * and values of sensitive headers or options.
 */

const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):([^@/\s]*)@/gi;
const KV_PASSWORD =
  /(\b(?:password|passwd|pwd|secret|token|api_key|apikey|secret_access_key|access_key_secret|private_key_passphrase|passphrase)\s*=\s*)('[^']*'|"[^"]*"|[^\s&;,]+)/gi;
const AUTH_HEADER = /((?:authorization|proxy-authorization|x-api-key|api-key|cookie)\s*:\s*)([^,\n]+)/gi;

export const MASK = '****';

/** Replaces secrets inside free text. Idempotent. */
export function redactSecrets(text: string): string {
  return text
    .replace(URL_PASSWORD, (_m, pre: string) => `${pre}:${MASK}@`)
    .replace(KV_PASSWORD, (_m, pre: string) => `${pre}${MASK}`)
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
