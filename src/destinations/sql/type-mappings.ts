import { readFileSync } from 'node:fs';
import type { Column } from '../../core/change';
import { invalidArgument } from '../../core/errors';
import { baseTypeName } from './types';

/**
 * User overrides of destination column types (`type_mappings`, `type_mappings_file`): source type →
 * destination type, written verbatim into the destination's DDL. Keys are matched, case-insensitively,
 * against a column's `formattedType` (`numeric(30,10)`, `text[]`), then its `pgType` (`public.geometry`,
 * `_int4`, `jsonb`), then the type name without its schema (`geometry`); arrays also match as
 * `element[]` (`int4[]`). An override applies to the whole column: an array mapped to `VARCHAR`
 * holds its JSON text.
 */
export type TypeMappings = ReadonlyMap<string, string>;

export const NO_TYPE_MAPPINGS: TypeMappings = new Map();

/** A destination type: a name with optional `(…)`, `[]`, spaces, dots and quotes; never a `;`. */
const DESTINATION_TYPE = /^[A-Za-z_][A-Za-z0-9_ ,.()[\]"]*$/;

/** Parses a JSON object of strings; `field` names the option in errors. */
export function parseTypeMappings(json: string, field: string): Map<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (e) {
    throw invalidArgument(field, `is not valid JSON (${(e as Error).message})`, 'use a JSON object such as {"jsonb": "VARCHAR", "public.geometry": "BLOB"}');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw invalidArgument(field, 'must be a JSON object of source type → destination type', 'use e.g. {"jsonb": "VARCHAR"}');
  }
  const out = new Map<string, string>();
  for (const [source, dest] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof dest !== 'string' || !DESTINATION_TYPE.test(dest.trim())) {
      throw invalidArgument(
        `${field}.${source}`,
        `${JSON.stringify(dest)} is not a destination type name`,
        'use a type name such as VARCHAR, DECIMAL(38,10) or INTEGER[]',
      );
    }
    out.set(source.trim().toLowerCase(), dest.trim());
  }
  return out;
}

/** Reads `type_mappings_file` then `type_mappings` (inline entries win). */
export function loadTypeMappings(inline: string | undefined, inlineField: string, file: string | undefined, fileField: string): TypeMappings {
  const merged = new Map<string, string>();
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw invalidArgument(
        fileField,
        `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
        'give the path of a readable JSON file',
      );
    }
    for (const [k, v] of parseTypeMappings(text, fileField)) merged.set(k, v);
  }
  if (inline !== undefined) for (const [k, v] of parseTypeMappings(inline, inlineField)) merged.set(k, v);
  return merged;
}

/** The override for a column, if any. */
export function mappedType(column: Pick<Column, 'pgType' | 'formattedType'>, mappings: TypeMappings): string | undefined {
  if (mappings.size === 0) return undefined;
  const formatted = column.formattedType.trim().toLowerCase();
  const pg = baseTypeName(column.pgType);
  const bare = pg.slice(pg.lastIndexOf('.') + 1);
  const hit = mappings.get(formatted) ?? mappings.get(pg) ?? mappings.get(bare);
  if (hit !== undefined || !bare.startsWith('_')) return hit;
  // Arrays also match as `element[]`: `int4[]`, `public.mood[]`, `mood[]`.
  const element = pg.slice(0, pg.length - bare.length) + bare.slice(1);
  return mappings.get(`${element}[]`) ?? mappings.get(`${bare.slice(1)}[]`);
}
