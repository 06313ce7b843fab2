import type { Value } from '../../../core/change';
import type { BytesParser } from '../types/bytesParsers';
import type { TextParser } from '../types/scalars';

/** Per column, the parsers of the streaming path (see `RelationState`): the same text gives the same value. */
export interface CopyRowShape {
  parsers: Array<TextParser | undefined>;
  bytesParsers: Array<BytesParser | undefined>;
}

interface Utf8Slicer {
  utf8Slice(start: number, end: number): string;
}

const TAB = 0x09;
const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;

/**
 * Decodes one row of `COPY … TO STDOUT` in text format (`buf[start..end)`, fields separated by
 * tabs, `\N` for NULL, a newline at the end) into `values[0..columns)`, with the parsers the
 * streaming path uses for pgoutput's text values: the server writes a column's text by the same
 * output function in both, so a backfilled row and a streamed one carry equal values. A field
 * without escapes is parsed where it lies in the buffer; one with backslash escapes is unescaped
 * first. Returns the offset where field `columns` (the first one not decoded) starts.
 */
export function readCopyTextRow(buf: Buffer, start: number, end: number, shape: CopyRowShape, columns: number, values: Value[]): number {
  const { parsers, bytesParsers } = shape;
  const slicer = buf as unknown as Utf8Slicer;
  let pos = start;
  for (let i = 0; i < columns; i++) {
    if (pos >= end) throw new Error(`COPY row has ${i} fields, ${columns} expected`);
    const s = pos;
    let escaped = false;
    while (pos < end) {
      const b = buf[pos]!;
      if (b === TAB || b === NEWLINE) break;
      if (b === BACKSLASH) {
        escaped = true;
        pos++;
      }
      pos++;
    }
    const e = Math.min(pos, end);
    pos = e + 1;
    if (escaped && e - s === 2 && buf[s + 1] === 0x4e /* N */) {
      values[i] = null;
      continue;
    }
    const parse = parsers[i];
    if (escaped) {
      const text = unescapeCopyText(buf, s, e);
      values[i] = parse === undefined ? text : parse(text);
      continue;
    }
    const bytes = bytesParsers[i];
    if (bytes !== undefined) values[i] = bytes(buf, s, e);
    else {
      const text = slicer.utf8Slice(s, e);
      values[i] = parse === undefined ? text : parse(text);
    }
  }
  return pos;
}

const SIMPLE_ESCAPES: Record<number, number> = { 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09, 0x76: 0x0b };

const isOctal = (b: number | undefined): b is number => b !== undefined && b >= 0x30 && b <= 0x37;

function hexDigit(b: number | undefined): number {
  if (b === undefined) return -1;
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  return -1;
}

/**
 * The text of a COPY text field with backslash escapes (`\b \f \n \r \t \v`, `\` + 1–3 octal
 * digits, `\x` + 1–2 hex digits, `\` + any other byte for that byte), decoded as UTF-8.
 */
export function unescapeCopyText(buf: Buffer, start: number, end: number): string {
  const out = Buffer.allocUnsafe(end - start);
  let n = 0;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b !== BACKSLASH || i + 1 >= end) {
      out[n++] = b;
      continue;
    }
    const c = buf[++i]!;
    const simple = SIMPLE_ESCAPES[c];
    if (simple !== undefined) out[n++] = simple;
    else if (isOctal(c)) {
      let v = c - 0x30;
      for (let k = 0; k < 2 && i + 1 < end && isOctal(buf[i + 1]); k++) v = v * 8 + (buf[++i]! - 0x30);
      out[n++] = v & 0xff;
    } else if (c === 0x78 /* x */ && i + 1 < end && hexDigit(buf[i + 1]) >= 0) {
      let v = hexDigit(buf[++i]);
      if (i + 1 < end && hexDigit(buf[i + 1]) >= 0) v = v * 16 + hexDigit(buf[++i]);
      out[n++] = v;
    } else out[n++] = c;
  }
  return out.toString('utf8', 0, n);
}

/**
 * The block and offset of a ctid in COPY text (`(block,offset)`, digits only, no escapes) at
 * `buf[start..end)`; the field may be followed by the row's newline.
 */
export function readCopyCtid(buf: Buffer, start: number, end: number): { block: number; offset: number } {
  let pos = start;
  if (buf[pos] !== 0x28 /* ( */) throw new Error(`not a ctid: ${buf.toString('utf8', start, end)}`);
  pos++;
  let block = 0;
  for (; pos < end && buf[pos] !== 0x2c /* , */; pos++) block = block * 10 + (buf[pos]! - 0x30);
  pos++;
  let offset = 0;
  for (; pos < end && buf[pos] !== 0x29 /* ) */; pos++) offset = offset * 10 + (buf[pos]! - 0x30);
  if (pos >= end || !Number.isFinite(block)) throw new Error(`not a ctid: ${buf.toString('utf8', start, end)}`);
  return { block, offset };
}
