import { parseFlags, UsageError, type FlagSpec } from '../../src/cli/flags';

const SPECS: FlagSpec[] = [
  { name: 'flow-id', type: 'string', help: '' },
  { name: 'max-empty-reads', type: 'int', help: '', min: 0 },
  { name: 'pause', type: 'bool', help: '' },
];

describe('Go-style flags', () => {
  it('accepts -flag value, -flag=value and --flag', () => {
    expect(parseFlags(['-flow-id', 'a', '-max-empty-reads=3', '--pause'], SPECS).values).toEqual({ 'flow-id': 'a', 'max-empty-reads': 3, pause: true });
    expect(parseFlags(['-pause=false'], SPECS).values.pause).toBe(false);
  });

  it('rejects misuse with the flag named', () => {
    expect(() => parseFlags(['-flow'], SPECS)).toThrow(new UsageError('unknown flag -flow; known flags: -flow-id, -max-empty-reads, -pause'));
    expect(() => parseFlags(['-max-empty-reads', 'x'], SPECS)).toThrow(/flag -max-empty-reads: "x" is not a whole number/);
    expect(() => parseFlags(['-max-empty-reads', '-1'], SPECS)).toThrow(/below the minimum 0/);
    expect(() => parseFlags(['-flow-id'], SPECS)).toThrow(/flag -flow-id needs a value/);
    expect(() => parseFlags(['stray'], SPECS)).toThrow(/unexpected argument "stray"/);
  });

  it('collects subcommands when allowed', () => {
    expect(parseFlags(['stream', 'pull', '-flow-id', 'x'], SPECS, { allowPositional: true }).positional).toEqual(['stream', 'pull']);
  });
});
