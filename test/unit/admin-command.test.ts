import { DuctError, invalidArgument } from '../../src/core/errors';
import { flagError, runAdmin, type Command } from '../../src/cli/admin/command';
import { ADMIN_COMMANDS } from '../../src/cli/admin/commands';
import { UsageError } from '../../src/cli/flags';

function io() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: (t: string) => void (out.stdout += t), stderr: (t: string) => void (out.stderr += t), env: {} } };
}

const calls: unknown[] = [];
const demo: Command = {
  name: 'demo',
  summary: 'a demo command',
  description: 'Demo things.',
  subcommands: [
    {
      name: 'echo',
      summary: 'echo a value',
      usage: 'usage: ductstream-admin demo echo -value V',
      flags: [{ name: 'value', type: 'int', placeholder: 'V', help: 'the value' }],
      fieldFlags: { value_field: 'value' },
      async run(v, ctx) {
        calls.push(v.value);
        if (v.value === 13) throw invalidArgument('value_field', 'is unlucky', 'pick another');
        if (v.value === 14) throw new DuctError('unavailable', 'db down: postgres://u:pw@h/db', { retry: 'transient' });
        ctx.out(`value ${String(v.value)}`);
        return 0;
      },
    },
  ],
};

describe('admin command framework', () => {
  test('dispatches a subcommand with its flags', async () => {
    const { out, io: i } = io();
    expect(await runAdmin(['demo', 'echo', '-value', '5'], [demo], i)).toBe(0);
    expect(out.stdout).toBe('value 5\n');
    expect(calls).toEqual([5]);
  });

  test('-h at every level prints usage on stdout, exit 0; nothing or unknown names exit 2', async () => {
    for (const [args, expected] of [
      [['-h'], 'Commands:\n  demo'],
      [['demo', '-h'], 'Subcommands:\n  echo'],
      [['demo', 'echo', '-h'], '  -value V'],
    ] as const) {
      const { out, io: i } = io();
      expect(await runAdmin([...args], [demo], i)).toBe(0);
      expect(out.stdout).toContain(expected);
    }
    const cases: Array<[string[], string]> = [
      [[], 'usage: ductstream-admin <command>'],
      [['demo'], 'usage: ductstream-admin demo <subcommand>'],
      [['nope'], 'unknown command "nope"; commands: demo'],
      [['demo', 'nope'], 'unknown subcommand "demo nope"; subcommands: echo'],
      [['demo', 'echo', '-value', 'x'], 'flag -value: "x" is not a whole number'],
      [['demo', 'echo', '-value', '13'], 'ductstream-admin demo echo: flag -value: is unlucky (pick another)'],
    ];
    for (const [args, message] of cases) {
      const { out, io: i } = io();
      expect({ args, code: await runAdmin(args, [demo], i) }).toEqual({ args, code: 2 });
      expect(out.stderr).toContain(message);
    }
  });

  test('runtime failures exit 1 with secrets masked', async () => {
    const { out, io: i } = io();
    expect(await runAdmin(['demo', 'echo', '-value', '14'], [demo], i)).toBe(1);
    expect(out.stderr).toBe('ductstream-admin demo echo: db down: postgres://u:****@h/db\n');
  });

  test('service errors about mapped fields become flag errors; others pass through', () => {
    const mapped = flagError(new DuctError('not_found', 'stream: stream "x" is not written by any flow', { field: 'stream', hint: 'pass -dsn' }), {
      stream: 'stream',
    });
    expect(mapped).toEqual(new UsageError('flag -stream: stream "x" is not written by any flow (pass -dsn)'));
    const unmapped = new DuctError('internal', 'boom', { field: 'stream' });
    expect(flagError(unmapped, { stream: 'stream' })).toBe(unmapped);
    const other = invalidArgument('x', 'bad');
    expect(flagError(other, { stream: 'stream' })).toBe(other);
  });

  test("the stream command has pull, ack, replay and list, each with the issue's flags", () => {
    const stream = ADMIN_COMMANDS.find((c) => c.name === 'stream')!;
    const flags = Object.fromEntries(stream.subcommands.map((s) => [s.name, s.flags.map((f) => f.name)]));
    expect(flags.pull).toEqual(expect.arrayContaining(['stream', 'group', 'max', 'visibility', 'json', 'dsn']));
    expect(flags.ack).toEqual(expect.arrayContaining(['stream', 'group', 'ids', 'json', 'dsn']));
    expect(flags.replay).toEqual(expect.arrayContaining(['stream', 'group', 'since', 'from-lsn', 'json', 'dsn']));
    expect(flags.list).toEqual(expect.arrayContaining(['stream', 'json', 'dsn']));
  });
});
