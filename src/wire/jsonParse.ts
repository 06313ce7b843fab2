/**
 * A small JSON parser that can hand back chosen values as their source text instead of parsing
 * them into JS (where big numbers would lose precision): the json codec embeds json/jsonb columns
 * verbatim and gets them back byte for byte this way.
 */

/** A JSON value kept as its source text. */
export class RawJson {
  constructor(readonly text: string) {}
}

export type ParsedJson = null | boolean | number | string | RawJson | ParsedJson[] | { [key: string]: ParsedJson };

/** Decides, from the member path (`['after', 'doc']`), whether a value is kept as raw text. */
export type RawPredicate = (path: readonly string[]) => boolean;

const NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

export function parseJson(text: string, keepRaw: RawPredicate = () => false): ParsedJson {
  let pos = 0;
  const path: string[] = [];

  const fail = (what: string): never => {
    throw new SyntaxError(`invalid JSON at offset ${pos}: ${what}`);
  };
  const ws = () => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else break;
    }
  };
  const str = (): string => {
    const start = pos;
    pos++; // opening quote
    let escaped = false;
    for (;;) {
      if (pos >= text.length) fail('unterminated string');
      const c = text.charCodeAt(pos);
      if (c === 0x5c) {
        escaped = true;
        pos += 2;
        continue;
      }
      if (c < 0x20) fail('control character in string');
      pos++;
      if (c === 0x22) break;
    }
    const raw = text.slice(start, pos);
    return escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
  };
  const value = (): ParsedJson => {
    ws();
    const start = pos;
    const c = text[pos];
    let out: ParsedJson;
    if (c === '{') {
      pos++;
      const obj: { [key: string]: ParsedJson } = {};
      ws();
      if (text[pos] === '}') pos++;
      else {
        for (;;) {
          ws();
          if (text[pos] !== '"') fail('expected a member name');
          const key = str();
          ws();
          if (text[pos] !== ':') fail('expected ":"');
          pos++;
          path.push(key);
          const vStart = pos;
          const v = value();
          obj[key] = keepRaw(path) ? new RawJson(text.slice(vStart, pos).trim()) : v;
          path.pop();
          ws();
          if (text[pos] === ',') pos++;
          else if (text[pos] === '}') {
            pos++;
            break;
          } else fail('expected "," or "}"');
        }
      }
      out = obj;
    } else if (c === '[') {
      pos++;
      const arr: ParsedJson[] = [];
      ws();
      if (text[pos] === ']') pos++;
      else {
        for (;;) {
          arr.push(value());
          ws();
          if (text[pos] === ',') pos++;
          else if (text[pos] === ']') {
            pos++;
            break;
          } else fail('expected "," or "]"');
        }
      }
      out = arr;
    } else if (c === '"') out = str();
    else if (text.startsWith('true', pos)) {
      pos += 4;
      out = true;
    } else if (text.startsWith('false', pos)) {
      pos += 5;
      out = false;
    } else if (text.startsWith('null', pos)) {
      pos += 4;
      out = null;
    } else {
      NUMBER_RE.lastIndex = pos;
      const m = NUMBER_RE.exec(text);
      if (!m) return fail('unexpected character');
      pos += m[0].length;
      out = Number(m[0]);
    }
    if (pos === start) fail('empty value');
    return out;
  };

  const result = value();
  ws();
  if (pos !== text.length) fail('trailing characters');
  return result;
}
