import type { Row } from '../../src/core/change';
import { WIRE_FORMATS } from '../../src/wire/codec';
import { envelopeOf } from '../../src/wire/envelope';
import { getCodec } from '../../src/wire/registry';
import { ALL_TYPES, ROW_A, ROW_B, ROW_C, makeChange } from '../support/wire-fixtures';

/**
 * Every format × every column type of the all-types table: the ordinary value, the extreme or special
 * value, and NULL, each in a full row (typed formats carry every column), as one file and as messages.
 */
const typed = ALL_TYPES.columns.filter((c) => c.name !== 'id');

describe.each(WIRE_FORMATS)('%s', (format) => {
  const codec = getCodec(format);
  test.each(typed.map((c) => [`${c.name} ${c.formattedType}`, c.name] as const))('%s round-trips exactly', (_label, name) => {
    const rows: Row[] = [ROW_A, ROW_B, ROW_C].map((src, i) => ({ ...ROW_C, id: BigInt(i + 1), [name]: src[name]! }));
    const changes = [
      ...rows.map((after, i) => makeChange({ after, seq: i })),
      makeChange({ op: 'update', before: rows[0]!, after: rows[1]!, seq: 3 }),
      makeChange({ op: 'delete', key: { id: 2n }, seq: 4 }),
    ];
    expect(codec.decodeFile(codec.encodeFile(changes, ALL_TYPES), ALL_TYPES)).toEqual(changes.map(envelopeOf));
    for (const c of changes) expect(codec.decodeMessage(codec.encodeMessage(c, ALL_TYPES), ALL_TYPES)).toEqual(envelopeOf(c));
  });
});
