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

/**
 * Parses a JSON object of strings; `field` names the option in errors. With `fromFile`, errors
 * never quote the text (a file given by mistake, e.g. a credentials file, is not echoed): they
 * give the position or the entry's key only.
 */
export function parseTypeMappings(json: string, field: string, fromFile = false): Map<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (e) {
    const detail = fromFile ? jsonErrorPosition(json, e) : (e as Error).message;
    throw invalidArgument(field, `is not valid JSON (${detail})`, 'use a JSON object such as {"jsonb": "VARCHAR", "public.geometry": "BLOB"}');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw invalidArgument(field, 'must be a JSON object of source type → destination type', 'use e.g. {"jsonb": "VARCHAR"}');
  }
  const out = new Map<string, string>();
  for (const [source, dest] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof dest !== 'string' || !DESTINATION_TYPE.test(dest.trim())) {
      const shownKey = source.length > 64 ? `${source.slice(0, 64)}…` : source;
      throw invalidArgument(
        fromFile ? field : `${field}.${source}`,
        fromFile ? `the entry ${JSON.stringify(shownKey)} does not map to a destination type name` : `${JSON.stringify(dest)} is not a destination type name`,
        'use a type name such as VARCHAR, DECIMAL(38,10) or INTEGER[]',
      );
    }
    out.set(source.trim().toLowerCase(), dest.trim());
  }
  return out;
}

/** `line 3, column 7` of a JSON syntax error, without quoting the text. */
function jsonErrorPosition(text: string, e: unknown): string {
  const m = /position (\d+)/.exec((e as Error).message);
  if (!m) return text.trim() === '' ? 'the file is empty' : 'syntax error';
  const before = text.slice(0, Number(m[1]));
  const line = before.split('\n').length;
  return `syntax error at line ${line}, column ${before.length - before.lastIndexOf('\n')}`;
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
    for (const [k, v] of parseTypeMappings(text, fileField, true)) merged.set(k, v);
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
