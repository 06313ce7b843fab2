import type { Value, ValueKind } from '../../../core/change';
import { parseArrayText } from './array';
import type { BytesParser } from './bytesParsers';
import type { TextParser } from './scalars';

/** How the values of one PostgreSQL type are turned into JS: chosen once per column. */
export interface TypeParser {
  kind: ValueKind;
  /** For arrays: the kind of the (innermost) elements. */
  elementKind?: ValueKind;
  parse: TextParser;
  /** The same parse straight from the receive buffer, when faster (see {@link BytesParser}). */
  parseBytes?: BytesParser;
}

/** An array parser over the element type's parser; `delimiter` is the element's `typdelim`. */
export function arrayParserOf(element: TypeParser, delimiter = ','): TypeParser {
  const parseElement = element.parse;
  const parse =
    delimiter === ',' ? (text: string): Value => parseArrayText(text, parseElement) : (text: string): Value => parseArrayText(text, parseElement, delimiter);
  return { kind: 'array', elementKind: element.kind === 'array' ? element.elementKind : element.kind, parse };
}
