import { invalidArgument } from '../../core/errors';
import type { Endpoint, Flow } from '../../core/flow';
import { MASK, maskOptions } from '../../core/redact';

/** A copy of the flow that is safe to show: every endpoint's secrets masked (src/core/redact.ts). */
export function maskFlow(flow: Flow): Flow {
  const mask = (e: Endpoint): Endpoint => ({ ...e, options: maskOptions(e.options) });
  return { ...flow, source: mask(flow.source), destinations: flow.destinations.map(mask) };
}

/** Options that say where an endpoint connects to, and so where its secrets are sent. */
const LOCATION_KEYS = /^(dsn|url|uri|endpoint|brokers|host|hosts)$/i;

/**
 * Where an endpoint's secrets go: its type and, for every location option, the scheme, hosts and
 * ports it names (user, database, path and secrets left out). Two endpoints with the same
 * location send their credentials to the same servers.
 */
export function endpointLocation(e: Endpoint): string {
  const parts = [e.type];
  for (const key of Object.keys(e.options)
    .filter((k) => LOCATION_KEYS.test(k))
    .sort())
    parts.push(`${key}=${hostsOf(e.options[key] ?? '')}`);
  return parts.join(';');
}

/** `postgres://u:p@h:5432/db` → `postgres://h:5432`; `host=a port=5 ...` → `host=a port=5`; `b1:9092, b2:9092` → `b1:9092,b2:9092`. */
function hostsOf(value: string): string {
  const v = value.trim();
  const url = /^([a-z][a-z0-9+.-]*:)\/\/(?:[^/?#]*@)?([^/?#@]*)/i.exec(v);
  // libpq-style URLs may also name hosts in the query (`?host=...`).
  const queryHosts = [...v.matchAll(/[?&](host|hostaddr|port)=([^&#]*)/gi)].map((m) => `&${m[1]!.toLowerCase()}=${m[2]!.toLowerCase()}`);
  if (url) return `${url[1]!.toLowerCase()}//${url[2]!.toLowerCase()}${queryHosts.sort().join('')}`;
  if (/\w+\s*=/.test(v)) {
    const kv = [...v.matchAll(/\b(host|hostaddr|port)\s*=\s*('[^']*'|\S+)/gi)].map((m) => `${m[1]!.toLowerCase()}=${m[2]!.toLowerCase()}`);
    return kv.sort().join(' ');
  }
  return v
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '')
    .sort()
    .join(',');
}

/**
 * A client that read a masked flow and sends it back (UpdateFlow with a full payload) must not
 * overwrite the stored secrets with `****`: an option whose new value equals the masked form of
 * the stored value keeps the stored value, but only while the endpoint still points where it did
 * ({@link endpointLocation}: same type, same hosts). A masked value that cannot be restored that
 * way (the endpoint moved to another host, or the masked value does not match the stored one) is
 * `invalid_argument` naming the option: the real secret must be sent again, so a stored secret
 * never reaches a server the update chose. Endpoints are matched by role and name; a new endpoint
 * takes its values as sent.
 */
export function keepMaskedSecrets(next: Flow, stored: Flow): Flow {
  const keep = (e: Endpoint, old: Endpoint | undefined, path: string): Endpoint => {
    if (!old) return e;
    const masked = maskOptions(old.options);
    const moved = endpointLocation(e) !== endpointLocation(old);
    const options: Record<string, string> = {};
    for (const [k, v] of Object.entries(e.options)) {
      const prev = old.options[k];
      if (v === prev || !v.includes(MASK)) options[k] = v;
      else if (moved) throw maskedValueError(`${path}.options.${k}`, `holds a masked value (${MASK}) but the endpoint's ${changedKeys(e, old)} changed`);
      else if (prev !== undefined && masked[k] === v) options[k] = prev;
      else throw maskedValueError(`${path}.options.${k}`, `holds a masked value (${MASK}) that does not match the stored one`);
    }
    return { ...e, options };
  };
  return {
    ...next,
    source: keep(next.source, stored.source, 'source'),
    destinations: next.destinations.map((d, i) =>
      keep(
        d,
        stored.destinations.find((o) => o.name === d.name),
        `destinations[${i}]`,
      ),
    ),
  };
}

function changedKeys(e: Endpoint, old: Endpoint): string {
  if (e.type !== old.type) return 'type';
  const keys = [...new Set([...Object.keys(e.options), ...Object.keys(old.options)])].filter((k) => LOCATION_KEYS.test(k));
  const changed = keys.filter((k) => hostsOf(e.options[k] ?? '') !== hostsOf(old.options[k] ?? ''));
  return changed.join('/') || 'location';
}

function maskedValueError(field: string, problem: string) {
  return invalidArgument(field, problem, 'send the real value of this option: a stored secret is only kept for the same endpoint');
}
