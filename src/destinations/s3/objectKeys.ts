import type { Change, TableRef } from '../../core/change';

/**
 * Object key layout: `<prefix><schema>.<table>/<first>-<last>.<ext>` where `<first>` and `<last>`
 * are the stream positions (commit LSN, seq) of the object's first and last change, each as 16 + 8
 * zero-padded upper-case hex digits (`0000000016B6C500.00000000`).
 *
 * - Keys of one table sort by LSN (lexicographic order = stream order), so listing a table's folder
 *   lists its changes in order.
 * - The key is a function of the changes it holds: a replayed batch writes the same key again
 *   (overwriting an identical object); a replay cut at other boundaries writes a different key whose
 *   changes overlap, which a reader drops by position (commit LSN, seq).
 * - Characters other than letters, digits, `_` and `-` in schema and table names are
 *   percent-encoded (`.` too), so a name can never add a folder level or collide with another.
 */
export function objectKeyFor(prefix: string, table: TableRef, first: Change, last: Change, extension: string): string {
  return `${prefix}${tableFolder(table)}/${positionText(first)}-${positionText(last)}.${extension}`;
}

export function tableFolder(table: TableRef): string {
  return `${safe(table.schema)}.${safe(table.name)}`;
}

export function positionText(c: Pick<Change, 'commitLsn' | 'seq'>): string {
  return `${c.commitLsn.toString(16).toUpperCase().padStart(16, '0')}.${c.seq.toString(16).toUpperCase().padStart(8, '0')}`;
}

function safe(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, (ch) => (/[.!'()*~]/.test(ch) ? `%${ch.charCodeAt(0).toString(16).toUpperCase()}` : encodeURIComponent(ch)));
}
