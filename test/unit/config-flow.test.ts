import { parseFlow, resolveDestinationFormat } from '../../src/config/flow';
import { DuctError } from '../../src/core/errors';
import '../../src/destinations';

const base = () => ({
  id: 'orders',
  source: { name: 'pg', type: 'postgres', options: { dsn: 'postgres://u:pw@h/db', slot: 's', publication: 'p' } },
  destinations: [{ name: 'duck', type: 'duckdb', options: { dsn: '/tmp/x.duckdb' } }],
});

function rejects(input: unknown, ctx?: Parameters<typeof parseFlow>[1]): DuctError {
  try {
    parseFlow(input, ctx);
  } catch (e) {
    expect(e).toBeInstanceOf(DuctError);
    expect((e as DuctError).code).toBe('invalid_argument');
    return e as DuctError;
  }
  throw new Error('expected the flow to be rejected');
}

describe('parseFlow', () => {
  it('fills defaults: name = id, state created, parallelism 1, no wire format', () => {
    const f = parseFlow(base());
    expect(f).toMatchObject({ id: 'orders', name: 'orders', state: 'created', parallelism: 1, wire_format: '' });
    expect(f.destinations[0]).toEqual({ name: 'duck', type: 'duckdb', options: { dsn: '/tmp/x.duckdb' } });
  });

  it.each([
    [{ ...base(), id: '' }, 'id: is required'],
    [{ ...base(), id: 'has space' }, 'id: "has space" is not a valid flow id'],
    [{ ...base(), extra: 1 }, 'extra: is not a known field'],
    [{ ...base(), source: undefined }, 'source: is required'],
    [{ ...base(), source: { type: 'mysql', options: {} } }, 'source.type: unknown source type "mysql"'],
    [{ ...base(), destinations: [] }, 'destinations: needs at least one destination'],
    [
      {
        ...base(),
        destinations: [
          { type: 'duckdb', options: { dsn: 'a' } },
          { type: 'duckdb', options: { dsn: 'b' } },
        ],
      },
      'destinations[1].name: "duckdb" is used twice',
    ],
    [{ ...base(), destinations: [{ name: 'x', type: 'duckdb', options: { dsn: { nested: true } } }] }, 'destinations[0].options.dsn: must be a string'],
    [{ ...base(), parallelism: 0 }, 'parallelism: 0 is not allowed'],
    [{ ...base(), parallelism: 'abc' }, 'parallelism: "abc" is not allowed'],
    [{ ...base(), state: 'sleeping' }, 'state: unknown state "sleeping"'],
  ])('rejects %# with the field named', (input, message) => {
    expect(rejects(input).message).toBe(message);
  });

  it('never puts the DSN password in an error', () => {
    const input = base();
    input.source.options.slot = 'bad slot!';
    const e = rejects(input);
    expect(e.message).toMatch(/^source\.options\.slot/);
    expect(`${e.message} ${e.hint}`).not.toContain('pw@');
  });
});

describe('wire format resolution and enforcement', () => {
  const withFormats = (flowFormat: string | undefined, destFormat: string | undefined) => ({
    ...base(),
    ...(flowFormat ? { wire_format: flowFormat } : {}),
    destinations: [{ name: 'duck', type: 'duckdb', options: { dsn: '/tmp/x.duckdb', ...(destFormat ? { format: destFormat } : {}) } }],
  });

  it('resolves destination options.format → flow.wire_format → service default → json', () => {
    const d = (format?: string) => ({ name: 'd', type: 'duckdb', options: (format ? { format } : {}) as Record<string, string> });
    expect(resolveDestinationFormat(d('avro'), 'proto', 'arrow')).toBe('avro');
    expect(resolveDestinationFormat(d(), 'proto', 'arrow')).toBe('proto');
    expect(resolveDestinationFormat(d(), '', 'arrow')).toBe('arrow');
    expect(resolveDestinationFormat(d(), '', undefined)).toBe('json');
  });

  it('rejects an unknown format anywhere with the allowed list', () => {
    expect(rejects(withFormats('xml', undefined)).message).toBe('wire_format: unknown wire format "xml"');
    const e = rejects(withFormats(undefined, 'csv'));
    expect(e.field).toBe('destinations[0].options.format');
    expect(e.hint).toBe('use one of: json, arrow, parquet, avro, proto');
  });

  it('enforcement applies to destinations that send encoded payloads, not to typed-row warehouses', () => {
    // DuckDB writes typed rows: its format does not matter even when enforced.
    expect(() => parseFlow(withFormats('json', undefined), { serviceWireFormat: 'arrow', enforceWireFormat: true })).not.toThrow();
  });
});
