import type { Row } from '../../../core/change';
import type { TextParser } from '../types/scalars';
import { parseText } from '../types/scalars';
import { PgoutputFormatError } from './decoder';

/** The per-relation information needed to decode a tuple straight into a row. */
export interface RowShape {
  names: string[];
  parsers: TextParser[];
}

interface Utf8Slicer {
  utf8Slice(start: number, end: number): string;
}

/**
 * Decodes pgoutput TupleData directly into a {@link Row}, with the parser chosen for each column
 * when its Relation arrived (no intermediate arrays). NULL → null; an unchanged TOAST value is
 * left out of the row and its column name is collected in {@link TupleReader.unchanged}.
 * One reader is reused for every tuple (not re-entrant).
 */
export class TupleReader {
  /** Offset just after the last tuple read. */
  end = 0;
  /** Unchanged TOAST columns of the last tuple read; a fresh array per tuple, empty when none. */
  unchanged: string[] = [];

  /**
   * Reads one tuple at `pos`. `keyOnly` is for an old-key (`K`) tuple, where the server sends the
   * replica identity columns and NULL for all others: the NULLs are left out of the row.
   */
  read(buf: Buffer, pos: number, shape: RowShape, keyOnly = false): Row {
    const n = buf.readUInt16BE(pos);
    pos += 2;
    const { names, parsers } = shape;
    if (n > names.length) throw new PgoutputFormatError(`tuple has ${n} columns but its relation has ${names.length}`);
    const row: Row = {};
    let unchanged: string[] | undefined;
    const slicer = buf as unknown as Utf8Slicer;
    for (let i = 0; i < n; i++) {
      const kind = buf[pos++];
      if (kind === 0x74 /* t */) {
        const len = buf.readInt32BE(pos);
        pos += 4;
        const text = slicer.utf8Slice(pos, pos + len);
        pos += len;
        const parse = parsers[i]!;
        row[names[i]!] = parse === parseText ? text : parse(text);
      } else if (kind === 0x6e /* n */) {
        if (!keyOnly) row[names[i]!] = null;
      } else if (kind === 0x75 /* u */) {
        (unchanged ??= []).push(names[i]!);
      } else {
        throw new PgoutputFormatError(`unexpected tuple value kind 0x${(kind ?? 0).toString(16)} (binary mode is not used)`);
      }
    }
    this.end = pos;
    this.unchanged = unchanged ?? [];
    return row;
  }
}
