import { formatLsn, isLsnText, maxLsn, parseLsn } from '../../src/core/lsn';

describe('Lsn', () => {
  it('parses and formats X/Y the way PostgreSQL prints it', () => {
    expect(parseLsn('0/16B6C50')).toBe(0x16b6c50n);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) | 0xb374d848n);
    expect(formatLsn(parseLsn('16/b374d848'))).toBe('16/B374D848');
    expect(formatLsn(0n)).toBe('0/0');
    expect(formatLsn(parseLsn('FFFFFFFF/FFFFFFFF'))).toBe('FFFFFFFF/FFFFFFFF');
  });

  it('compares numerically, not as text', () => {
    expect(parseLsn('0/A') < parseLsn('0/10')).toBe(true);
    expect(parseLsn('1/0') > parseLsn('0/FFFFFFFF')).toBe(true);
    expect(maxLsn(parseLsn('0/A'), parseLsn('0/10'))).toBe(0x10n);
  });

  it('rejects malformed input with an example of the right form', () => {
    for (const bad of ['', '0', '0/', '/1', 'x/1', '0/1/2', '123456789/0', '0/G']) {
      expect(isLsnText(bad)).toBe(false);
      expect(() => parseLsn(bad)).toThrow(/expected two hex numbers as X\/Y/);
    }
  });
});
