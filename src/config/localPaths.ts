import { existsSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { invalidArgument } from '../core/errors';
import type { Endpoint } from '../core/flow';
import { getDestinationKind } from '../destinations/registry';
import { dsnLocalFiles } from '../source/postgres/dsn';

/** An option whose value (or part of it) names a file on the machine that runs the flow. */
export interface LocalPathOption {
  /** The option key, e.g. `dsn` or `type_mappings_file`. */
  key: string;
  path: string;
  /** What part of the value is the path, when not all of it (e.g. `sslrootcert` of a DSN). */
  part?: string;
}

/** The file options of the Postgres source: `snapshot_state_path` and the TLS files of its DSN. */
export function sourceLocalPaths(options: Record<string, string>): LocalPathOption[] {
  const out: LocalPathOption[] = [];
  const state = options.snapshot_state_path?.trim();
  if (state) out.push({ key: 'snapshot_state_path', path: state });
  out.push(...dsnPaths(options, 'dsn'));
  return out;
}

/** The TLS files (`sslcert`, `sslkey`, `sslrootcert`) a postgres URL in option `key` names. */
export function dsnPaths(options: Record<string, string>, key: string): LocalPathOption[] {
  const dsn = options[key];
  return dsn ? dsnLocalFiles(dsn).map((f) => ({ key, path: f.path, part: f.param })) : [];
}

/** The real path of `p`, or of its nearest existing ancestor with the rest appended (the file may not exist yet). */
function realPathOf(p: string): string {
  let existing = p;
  const rest: string[] = [];
  while (!existsSync(existing)) {
    const parent = dirname(existing);
    if (parent === existing) break;
    rest.unshift(existing.slice(parent.length).replace(/^[/\\]+/, ''));
    existing = parent;
  }
  let real = existing;
  try {
    real = realpathSync(existing);
  } catch {
    // unreadable ancestor: compare the resolved path as it is
  }
  return resolve(real, ...rest);
}

function isInside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && rel.split(sep)[0] !== '..');
}

/**
 * Throws `invalid_argument` naming the option unless every file option of these endpoints resolves
 * (relative to the working directory, symlinks followed) inside `root`. Used for flows that arrive
 * through the API, which must not read or write files outside DUCTSTREAM_DATA_DIR; a local flow
 * file run by the worker is trusted and not checked.
 */
export function confineLocalPaths(source: Endpoint, destinations: readonly Endpoint[], root: string): void {
  const realRoot = realPathOf(resolve(root));
  const check = (endpointPath: string, o: LocalPathOption): void => {
    if (isInside(realRoot, realPathOf(resolve(o.path)))) return;
    const field = `${endpointPath}.options.${o.key}`;
    const what = o.part ? `${o.part} "${o.path}"` : `"${o.path}"`;
    throw invalidArgument(
      field,
      `${what} is outside the data directory ${realRoot}`,
      `flows created through the API may only use files under DUCTSTREAM_DATA_DIR (${realRoot}); use e.g. ${resolve(realRoot, 'warehouse.duckdb')}`,
    );
  };
  for (const o of sourceLocalPaths(source.options)) check('source', o);
  destinations.forEach((d, i) => {
    const kind = getDestinationKind(d.type, `destinations[${i}].type`);
    for (const o of kind.localPaths?.(d.options) ?? []) check(`destinations[${i}]`, o);
  });
}
