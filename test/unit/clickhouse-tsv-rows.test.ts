import { OptionReader } from '../../src/config/options';
import { parseScaledDecimal } from '../../src/destinations/sql/pg-text';
import { tableLayout } from '../../src/destinations/sql/layout';
import { readWarehouseOptions } from '../../src/destinations/sql/options';
import { planTable } from '../../src/destinations/sql/plan';
import { TsvRows, versionText } from '../../src/destinations/clickhouse/rows';
import { fieldEncoder, isCanonicalDecimal } from '../../src/destinations/clickhouse/tsv';
import { clickhouseTypes } from '../../src/destinations/clickhouse/types';
import { ChangeLog, table } from '../support/changes';

/** The text the encoder made before its fast path: through the scaled integer (BigInt). */
function viaBigInt(text: string, precision: number, scale: number): string {
  const scaled = parseScaledDecimal(text, scale);
  if (scaled === undefined || scaled >= 10n ** BigInt(precision) || scaled <= -(10n ** BigInt(precision))) return 'error';
  const digits = (scaled < 0n ? -scaled : scaled).toString().padStart(scale + 1, '0');
  const sign = scaled < 0n ? '-' : '';
  return scale === 0 ? sign + digits : `${sign}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

function encodeDecimal(text: string, precision: number, scale: number): string {
  try {
    return fieldEncoder({ kind: 'decimal', precision, scale })(text);
  } catch {
    return 'error';
  }
}

describe('ClickHouse decimal fields', () => {
  test('PostgreSQL numeric(p,s) text is recognised as already canonical', () => {
    for (const t of ['0.00', '12.34', '-12.34', '9999999999.99', '100.00']) expect(isCanonicalDecimal(t, 12, 2)).toBe(true);
    expect(isCanonicalDecimal('42', 5, 0)).toBe(true);
    expect(isCanonicalDecimal('-7', 5, 0)).toBe(true);
  });

  test('anything else takes the general path: leading zeros, other scales, negative zero, too many digits, junk', () => {
    for (const t of ['012.34', '12.3', '12.345', '-0.00', '-0.50', '-0.5', '10000000000.00', '1e5', '12.3a', '', '-', '.50', '12.', 'NaN', '+1.00', ' 1.00']) {
      expect(isCanonicalDecimal(t, 12, 2)).toBe(false);
    }
    expect(isCanonicalDecimal('0.50', 2, 2)).toBe(false);
    expect(isCanonicalDecimal('1.0', 5, 0)).toBe(false);
  });

  test('the encoder writes the same text (or refuses the same values) with and without the fast path', () => {
    const cases: [string, number, number][] = [];
    for (const t of ['0.00', '12.34', '-12.34', '-0.50', '-0.00', '0.5', '012.30', '9999999999.99', '10000000000.00', '1.005', '1.000', '-123', '123']) {
      cases.push([t, 12, 2], [t, 5, 0], [t, 4, 2], [t, 76, 20]);
    }
    for (const [t, p, s] of cases) expect([t, p, s, encodeDecimal(t, p, s)]).toEqual([t, p, s, viaBigInt(t, p, s)]);
  });
});

describe('TsvRows', () => {
  const items = table('public.items', { id: 'int8', name: 'text', price: 'numeric(12,2)' }, { primaryKey: ['id'] });
  const options = readWarehouseOptions(new OptionReader({}, 'd'), 'd');
  const layout = tableLayout(items, { schema: 'public', name: 'items' }, options, clickhouseTypes);

  test('the body holds every row in order, byte for byte, across chunk boundaries and multibyte text', () => {
    const log = new ChangeLog();
    const names = (i: number): string => (i % 3 === 0 ? `é\t${i}\\ 😀` : i % 3 === 1 ? `item ${i}\n` : 'ascii');
    const changes = log.tx((t) => {
      for (let i = 1; i <= 700; i++) t.insert(items, { id: BigInt(i), name: names(i), price: `${i}.05` });
    });
    const rows = new TsvRows(layout, true);
    for (const r of planTable(layout, changes).rows) rows.add(r, undefined, false);
    expect(rows.rowCount).toBe(700);
    const escaped = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n');
    const expected = changes.map((c, i) => `${i + 1}\t${escaped(names(i + 1))}\t${i + 1}.05\t${versionText(c)}\t0\n`).join('');
    expect(rows.data().equals(Buffer.from(expected, 'utf8'))).toBe(true);
    expect(rows.text()).toBe(expected);
    // Reading the body again gives the same bytes.
    expect(rows.data().toString('utf8')).toBe(expected);
  });

  test('no rows, no bytes', () => {
    const rows = new TsvRows(layout, true);
    expect(rows.rowCount).toBe(0);
    expect(rows.data().length).toBe(0);
    expect(rows.text()).toBe('');
  });
});
