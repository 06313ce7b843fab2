/**
 * jsonString (src/wire/jsonValues.ts), the json codec's string quoting, gives exactly what
 * JSON.stringify gives for every string: its fast path (no escaping needed) must never apply to a
 * string JSON.stringify would escape.
 */
import { jsonString } from '../../src/wire/jsonValues';

test('jsonString equals JSON.stringify on edge cases and on random strings', () => {
  const cases = [
    '',
    'plain',
    '12.50',
    '2024-05-06T07:08:09.123456Z',
    'quote " inside',
    'back\\slash',
    'tab\there',
    'nl\ncr\r',
    '\u0000\u0001\u001f',
    '\u007f del',
    'é ü € 漢字',
    '😀 pair',
    'lone \ud800 high',
    'lone \udc00 low',
    'reversed \udc00\ud800',
    'line sep \u2028 para \u2029',
    '</script>',
  ];
  for (const s of cases) expect(jsonString(s)).toBe(JSON.stringify(s));
  // Random strings over an alphabet weighted towards the characters that matter.
  const alphabet = ['a', 'Z', '0', ' ', '"', '\\', '\n', '\u0000', '\u001f', '\u0020', '\u007f', 'é', '\u2028', '\ud83d', '\ude00', '\uffff'];
  let seed = 17;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  for (let i = 0; i < 5000; i++) {
    let s = '';
    for (let n = rand(12); n > 0; n--) s += alphabet[rand(alphabet.length)];
    expect(jsonString(s)).toBe(JSON.stringify(s));
  }
});
