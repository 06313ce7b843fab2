import { recordEndOf } from '../../src/source/postgres/walPosition';

/** An insert position just past a page header is read as the page start (where the last record ended). */
describe('recordEndOf', () => {
  const page = 8192;
  it('keeps a position inside a page', () => {
    expect(recordEndOf(0x1000_0000n + 200n, page)).toBe(0x1000_0000n + 200n);
    expect(recordEndOf(0x1000_0000n + 41n, page)).toBe(0x1000_0000n + 41n);
  });
  it('takes a position within a page header back to the page start', () => {
    expect(recordEndOf(0x1000_0000n + 24n, page)).toBe(0x1000_0000n);
    expect(recordEndOf(0x1000_0000n + 40n, page)).toBe(0x1000_0000n);
    expect(recordEndOf(3n * 8192n + 24n, page)).toBe(3n * 8192n);
  });
  it('keeps a position at a page start', () => {
    expect(recordEndOf(4n * 8192n, page)).toBe(4n * 8192n);
  });
});
