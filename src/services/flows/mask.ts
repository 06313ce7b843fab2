import type { Endpoint, Flow } from '../../core/flow';
import { maskOptions } from '../../core/redact';

/** A copy of the flow that is safe to show: every endpoint's secrets masked (src/core/redact.ts). */
export function maskFlow(flow: Flow): Flow {
  const mask = (e: Endpoint): Endpoint => ({ ...e, options: maskOptions(e.options) });
  return { ...flow, source: mask(flow.source), destinations: flow.destinations.map(mask) };
}

/**
 * A client that read a masked flow and sends it back (UpdateFlow with a full payload) must not
 * overwrite the stored secrets with `****`: every option whose new value equals the masked form
 * of the stored value keeps the stored value. Endpoints are matched by role and name.
 */
export function keepMaskedSecrets(next: Flow, stored: Flow): Flow {
  const keep = (e: Endpoint, old: Endpoint | undefined): Endpoint => {
    if (!old) return e;
    const masked = maskOptions(old.options);
    const options: Record<string, string> = {};
    for (const [k, v] of Object.entries(e.options)) {
      const prev = old.options[k];
      options[k] = prev !== undefined && v !== prev && masked[k] === v ? prev : v;
    }
    return { ...e, options };
  };
  return {
    ...next,
    source: keep(next.source, stored.source),
    destinations: next.destinations.map((d) =>
      keep(
        d,
        stored.destinations.find((o) => o.name === d.name),
      ),
    ),
  };
}
