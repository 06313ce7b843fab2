import { DuctError } from '../core/errors';

/**
 * `value` (a destination's connection, client or writer) when the destination is open; otherwise
 * the error every destination gives for use before `open()` or after `close()`: `failed_precondition`
 * naming the kind and the destination, never retried.
 */
export function requireOpen<T>(value: T | undefined, kind: string, name: string): T {
  if (value === undefined)
    throw new DuctError('failed_precondition', `${kind} destination "${name}" is not open`, { retry: 'never', hint: 'call open() first' });
  return value;
}
