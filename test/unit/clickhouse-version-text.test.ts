import { versionOf, versionText } from '../../src/destinations/clickhouse/rows';

describe('ClickHouse version text', () => {
  it('is the decimal text of versionOf for every position, across carries, negative seqs and LSN 0', () => {
    const lsns = [0n, 1n, 0x16a0f08n, 123_456_789n << 20n, 0xffff_ffff_ffff_ffffn];
    const seqs = [0, 1, 5, 999_999_999, 1_000_000_000, 2 ** 40, -1, -500];
    for (const commitLsn of lsns) for (const seq of seqs) expect(versionText({ commitLsn, seq })).toBe(versionOf({ commitLsn, seq }).toString());
  });
});
