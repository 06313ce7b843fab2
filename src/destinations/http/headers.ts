import { invalidArgument } from '../../core/errors';
import { MASK } from '../../core/redact';

export type HeaderPair = [name: string, value: string];

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers the destination sets itself (framing, content type, idempotency). */
const RESERVED = ['content-type', 'content-length', 'host', 'transfer-encoding', 'connection'];

/**
 * Parses the `headers` option, `Key:Value,Key2:Value2` (the value is everything after the first
 * `:`, trimmed; values cannot contain commas). Errors name the entry by position and header name
 * only: a value may be a credential and is never echoed.
 */
export function parseHeaderList(text: string, field: string, reserved: string[] = []): HeaderPair[] {
  if (text.trim() === '') return [];
  const out: HeaderPair[] = [];
  const seen = new Set<string>();
  const taken = new Set([...RESERVED, ...reserved.map((r) => r.toLowerCase())]);
  text.split(',').forEach((entry, i) => {
    const n = i + 1;
    if (entry.trim() === '')
      throw invalidArgument(field, `entry ${n} is empty`, 'write headers as Key:Value pairs separated by commas, e.g. Authorization:Bearer abc,X-Team:data');
    const colon = entry.indexOf(':');
    if (colon < 0)
      throw invalidArgument(
        field,
        `entry ${n} has no ":" between name and value`,
        'write headers as Key:Value pairs separated by commas, e.g. Authorization:Bearer abc',
      );
    const name = entry.slice(0, colon).trim();
    const value = entry.slice(colon + 1).trim();
    if (!TOKEN.test(name)) throw invalidArgument(field, `entry ${n} has an invalid header name`, 'header names are letters, digits and - (e.g. X-Api-Key)');
    if (value === '') throw invalidArgument(field, `header "${name}" (entry ${n}) has an empty value`, 'give every header a value, or remove it');
    if (/[\r\n\0]/.test(value))
      throw invalidArgument(field, `header "${name}" (entry ${n}) has a control character in its value`, 'remove line breaks from header values');
    const lower = name.toLowerCase();
    if (taken.has(lower))
      throw invalidArgument(
        field,
        `header "${name}" is set by the destination itself`,
        'remove it (Content-Type follows the format; the idempotency header is idempotency_header)',
      );
    if (seen.has(lower)) throw invalidArgument(field, `header "${name}" is given twice`, 'give each header once');
    seen.add(lower);
    out.push([name, value]);
  });
  return out;
}

/**
 * Removes configured header values from a text (a peer's response body may echo them), so that
 * errors and logs never carry them. Values shorter than 4 characters are left alone (too common to
 * be secrets, and masking them would garble messages).
 */
export function scrubHeaderValues(text: string, headers: readonly HeaderPair[]): string {
  let out = text;
  for (const [, value] of headers) {
    if (value.length < 4) continue;
    out = out.split(value).join(MASK);
    const token = value.replace(/^(Bearer|Basic|Token)\s+/i, '');
    if (token !== value && token.length >= 4) out = out.split(token).join(MASK);
  }
  return out;
}
