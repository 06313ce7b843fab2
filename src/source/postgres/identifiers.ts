import type { TableRef } from '../../core/change';
import { invalidArgument } from '../../core/errors';

/**
 * SQL identifiers in options, read the way PostgreSQL reads them: an unquoted name is folded to
 * lower case (`Orders` → `orders`), a double-quoted one is kept as written (`"Orders"`).
 */

const UNQUOTED = /^[A-Za-z_][A-Za-z0-9_$]*$/;
const MAX_IDENTIFIER_BYTES = 63;

/** Splits `a.b` on dots outside double quotes. */
function splitQualified(text: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      if (quoted && text[i + 1] === '"') {
        cur += '""';
        i++;
        continue;
      }
      quoted = !quoted;
      cur += c;
    } else if (c === '.' && !quoted) {
      parts.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  parts.push(cur);
  return parts;
}

/** Reads one identifier (`orders`, `"Order Items"`); throws invalid_argument naming `field`. */
export function parseIdentifier(text: string, field: string): string {
  const t = text.trim();
  let name: string | undefined;
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) {
    const inner = t.slice(1, -1);
    if (!/^(?:[^"]|"")+$/.test(inner)) name = undefined;
    else name = inner.replace(/""/g, '"');
  } else if (UNQUOTED.test(t)) {
    name = t.toLowerCase();
  }
  if (name === undefined || name === '') {
    throw invalidArgument(field, `"${text}" is not a valid identifier`, 'use letters, digits and _ (starting with a letter or _), or a double-quoted name');
  }
  if (Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES) {
    throw invalidArgument(field, `"${text}" is longer than ${MAX_IDENTIFIER_BYTES} bytes`, 'use a shorter name');
  }
  return name;
}

/** Reads `schema.table` or `table` (schema `public`). */
export function parseQualifiedTable(text: string, field: string): TableRef {
  const parts = splitQualified(text.trim());
  if (parts.length === 1) return { schema: 'public', name: parseIdentifier(parts[0]!, field) };
  if (parts.length === 2) return { schema: parseIdentifier(parts[0]!, field), name: parseIdentifier(parts[1]!, field) };
  throw invalidArgument(field, `"${text}" is not a table name`, 'use schema.table or table, separated by commas');
}

/** Quotes an identifier for SQL text. */
export function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

export function quoteTable(t: TableRef): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
}
