import type { Value } from '../../../core/change';
import type { TextParser } from './scalars';

/**
 * PostgreSQL array text (`array_out`) → nested JS arrays:
 *   `{1,2,NULL}` → [1, 2, null]; `{{1,2},{3,4}}` → [[1,2],[3,4]]; `{"a b","x\"y",""}` → ['a b','x"y',''];
 *   `[0:1]={7,8}` (non-default bounds) → [7, 8]; `{}` → [].
 * An unquoted `NULL` (any case) is null; a quoted `"NULL"` is the string. Elements are parsed by
 * `parseElement`; `delimiter` is the element type's `typdelim` (`,` for all but box: `;`).
 */
export function parseArrayText(text: string, parseElement: TextParser, delimiter = ','): Value[] {
  let pos = 0;
  if (text.charCodeAt(0) === 91 /* [ */) {
    pos = text.indexOf('=');
    if (pos < 0) throw new Error(`malformed array text: "${text}"`);
    pos++;
  }
  if (text[pos] !== '{') throw new Error(`malformed array text: "${text}"`);
  const delim = delimiter.charCodeAt(0);
  // A stack of open arrays; the outermost is returned.
  const stack: Value[][] = [];
  let result: Value[] | undefined;
  const n = text.length;
  while (pos < n) {
    const c = text.charCodeAt(pos);
    if (c === 123 /* { */) {
      const arr: Value[] = [];
      if (stack.length > 0) stack[stack.length - 1]!.push(arr);
      stack.push(arr);
      pos++;
    } else if (c === 125 /* } */) {
      result = stack.pop();
      pos++;
      if (stack.length === 0) break;
    } else if (c === delim || c === 32 /* space */) {
      pos++;
    } else if (c === 34 /* " */) {
      let value = '';
      let start = ++pos;
      for (;;) {
        const q = text.charCodeAt(pos);
        if (q === 92 /* \ */) {
          value += text.slice(start, pos) + text[pos + 1];
          pos += 2;
          start = pos;
        } else if (q === 34) {
          value += text.slice(start, pos);
          pos++;
          break;
        } else if (pos >= n) {
          throw new Error(`malformed array text (unterminated quote): "${text}"`);
        } else {
          pos++;
        }
      }
      stack[stack.length - 1]!.push(parseElement(value));
    } else {
      let value = '';
      let start = pos;
      let escaped = false;
      while (pos < n) {
        const u = text.charCodeAt(pos);
        if (u === delim || u === 125) break;
        if (u === 92) {
          value += text.slice(start, pos) + text[pos + 1];
          pos += 2;
          start = pos;
          escaped = true;
        } else {
          pos++;
        }
      }
      value += text.slice(start, pos);
      value = value.trim();
      const top = stack[stack.length - 1];
      if (!top) throw new Error(`malformed array text: "${text}"`);
      top.push(!escaped && value.length === 4 && value.toUpperCase() === 'NULL' ? null : parseElement(value));
    }
  }
  if (!result || stack.length > 0) throw new Error(`malformed array text: "${text}"`);
  return result;
}
