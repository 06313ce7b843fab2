import type { Row, Value } from '../../../core/change';
import type { BytesParser } from '../types/bytesParsers';
import type { TextParser } from '../types/scalars';
import { PgoutputFormatError } from './decoder';

/** The per-relation information needed to decode a tuple straight into a row. */
export interface RowShape {
  names: string[];
  /** Per column: the value parser, or undefined when the text is the value (text, varchar, uuid...). */
  parsers: Array<TextParser | undefined>;
  /** Per column: a parser reading the buffer directly (used instead of `parsers[i]` when set). */
  bytesParsers: Array<BytesParser | undefined>;
  /** Builds a row holding every column from `values` (one allocation, one hidden class per relation). */
  buildRow?: (values: Value[]) => Row;
}

/**
 * A function that creates `{ [names[0]]: values[0], ... }` as one object literal, so every row of a
 * relation shares one V8 hidden class and is allocated at once (instead of a keyed store per
 * column). Undefined when a name cannot be a literal key safely (`__proto__`).
 */
export function rowBuilderFor(names: readonly string[]): ((values: Value[]) => Row) | undefined {
  if (names.includes('__proto__') || names.length > 200) return undefined;
  const body = `return {${names.map((n, i) => `${JSON.stringify(n)}: v[${i}]`).join(', ')}};`;
  // A generated object literal builds rows with one hidden class; names are JSON-quoted above.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function('v', body) as (values: Value[]) => Row;
}

interface Utf8Slicer {
  utf8Slice(start: number, end: number): string;
}

/** The `unchanged` list of every tuple without unchanged TOAST values (shared: never mutate). */
export const NO_UNCHANGED: string[] = Object.freeze([]) as unknown as string[];

/**
 * Decodes pgoutput TupleData directly into a {@link Row}, with the parser chosen for each column
 * when its Relation arrived. NULL → null; an unchanged TOAST value is left out of the row and its
 * column name is collected in {@link TupleReader.unchanged}. One reader is reused for every tuple
 * (not re-entrant).
 */
export class TupleReader {
  /** Offset just after the last tuple read. */
  end = 0;
  /** Unchanged TOAST columns of the last tuple read: a fresh array per tuple, or {@link NO_UNCHANGED}. */
  unchanged: string[] = NO_UNCHANGED;
  private scratch: Value[] = [];

  /**
   * Reads one tuple at `pos`. `keyOnly` is for an old-key (`K`) tuple, where the server sends the
   * replica identity columns and NULL for all others: the NULLs are left out of the row.
   */
  read(buf: Buffer, pos: number, shape: RowShape, keyOnly = false): Row {
    const n = buf.readUInt16BE(pos);
    pos += 2;
    const { names, parsers, bytesParsers } = shape;
    if (n > names.length) throw new PgoutputFormatError(`tuple has ${n} columns but its relation has ${names.length}`);
    const values = this.scratch;
    const slicer = buf as unknown as Utf8Slicer;
    let complete = true;
    let hasNull = false;
    for (let i = 0; i < n; i++) {
      const kind = buf[pos++];
      if (kind === 0x74 /* t */) {
        const len = buf.readInt32BE(pos);
        pos += 4;
        const bytes = bytesParsers[i];
        if (bytes !== undefined) {
          values[i] = bytes(buf, pos, pos + len);
        } else {
          const text = slicer.utf8Slice(pos, pos + len);
          const parse = parsers[i];
          values[i] = parse === undefined ? text : parse(text);
        }
        pos += len;
      } else if (kind === 0x6e /* n */) {
        values[i] = null;
        hasNull = true;
      } else if (kind === 0x75 /* u */) {
        values[i] = undefined as unknown as Value;
        complete = false;
      } else {
        throw new PgoutputFormatError(`unexpected tuple value kind 0x${(kind ?? 0).toString(16)} (binary mode is not used)`);
      }
    }
    this.end = pos;
    const build = shape.buildRow;
    if (complete && n === names.length && build !== undefined && !(keyOnly && hasNull)) {
      this.unchanged = NO_UNCHANGED;
      return build(values);
    }
    const row: Row = {};
    const unchanged: string[] = [];
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v === undefined) unchanged.push(names[i]!);
      else if (v !== null || !keyOnly) row[names[i]!] = v;
    }
    this.unchanged = unchanged.length > 0 ? unchanged : NO_UNCHANGED;
    return row;
  }
}
