import { DuctError, describeError } from '../../core/errors';
import { redactSecrets } from '../../core/redact';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../exit';
import { formatHelp, parseFlags, UsageError, type FlagSpec, type FlagValues } from '../flags';
import { AdminContext } from './context';

/**
 * The admin CLI's small command framework: `ductstream-admin <command> <subcommand> -flags`.
 * A command (`stream`, later `publication`, `ddl`) is a named group of subcommands; each subcommand
 * declares its Go-style flags and a `run`. `-h` works at every level. Errors from the service
 * modules name a request field (`max_messages`); `fieldFlags` maps it to the flag the user typed
 * (`-max`), so bad input always exits 2 naming the flag.
 */
export interface Subcommand {
  name: string;
  /** One line for the command's help. */
  summary: string;
  /** Usage line(s) and a short description, shown by `-h`. */
  usage: string;
  flags: FlagSpec[];
  /** Service error field → flag name (without the dash). */
  fieldFlags?: Record<string, string>;
  /** Returns the exit code. Throw UsageError or a DuctError for failures. */
  run(values: FlagValues, ctx: AdminContext): Promise<number>;
}

export interface Command {
  name: string;
  summary: string;
  /** Shown by `ductstream-admin <command> -h` above the subcommand list. */
  description: string;
  subcommands: Subcommand[];
}

export interface AdminIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: NodeJS.ProcessEnv;
}

export const PROG = 'ductstream-admin';

const isHelp = (a: string | undefined) => a === '-h' || a === '-help' || a === '--help' || a === 'help';

function topHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return `usage: ${PROG} <command> <subcommand> [flags]

Administers DuctStream directly against its databases (no server needs to run).
Environment: DUCTSTREAM_POSTGRES_DSN (where flows live).

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join('\n')}

Run \`${PROG} <command> -h\` for its subcommands, \`${PROG} <command> <subcommand> -h\` for its flags.
Exit codes: 0 ok, 1 failure, 2 bad input (the message names the flag).
`;
}

function commandHelp(c: Command): string {
  const width = Math.max(...c.subcommands.map((s) => s.name.length)) + 2;
  return `usage: ${PROG} ${c.name} <subcommand> [flags]

${c.description}

Subcommands:
${c.subcommands.map((s) => `  ${s.name.padEnd(width)}${s.summary}`).join('\n')}

Run \`${PROG} ${c.name} <subcommand> -h\` for its flags.
`;
}

/** Runs the admin CLI over `argv` (without the program name); returns the exit code. */
export async function runAdmin(argv: string[], commands: readonly Command[], io: AdminIo): Promise<number> {
  const [name, sub, ...rest] = argv;
  if (name === undefined) {
    io.stderr(topHelp(commands));
    return EXIT_USAGE;
  }
  if (isHelp(name)) {
    io.stdout(topHelp(commands));
    return EXIT_OK;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) return usage(io, `unknown command "${name}"; commands: ${commands.map((c) => c.name).join(', ')} (see -h)`);
  if (sub === undefined) {
    io.stderr(commandHelp(command));
    return EXIT_USAGE;
  }
  if (isHelp(sub)) {
    io.stdout(commandHelp(command));
    return EXIT_OK;
  }
  const subcommand = command.subcommands.find((s) => s.name === sub);
  if (!subcommand)
    return usage(
      io,
      `unknown subcommand "${command.name} ${sub}"; subcommands: ${command.subcommands.map((s) => s.name).join(', ')} (see ${PROG} ${command.name} -h)`,
    );
  const label = `${PROG} ${command.name} ${subcommand.name}`;
  const ctx = new AdminContext(io);
  try {
    const { values, help } = parseFlags(rest, subcommand.flags);
    if (help) {
      io.stdout(formatHelp(subcommand.usage, subcommand.flags));
      return EXIT_OK;
    }
    return await subcommand.run(values, ctx);
  } catch (e) {
    return reportFailure(io, label, flagError(e, subcommand.fieldFlags ?? {}));
  } finally {
    await ctx.close();
  }
}

function usage(io: AdminIo, message: string): number {
  io.stderr(`${PROG}: ${message}\n`);
  return EXIT_USAGE;
}

/**
 * A service error about a field the user gave as a flag, as a UsageError naming the flag: bad
 * values (`invalid_argument`) and unknown streams or groups (`not_found`) are bad input.
 */
export function flagError(e: unknown, fieldFlags: Record<string, string>): unknown {
  if (!(e instanceof DuctError) || !e.field) return e;
  const flag = fieldFlags[e.field];
  if (!flag || (e.code !== 'invalid_argument' && e.code !== 'not_found')) return e;
  const problem = e.message.startsWith(`${e.field}: `) ? e.message.slice(e.field.length + 2) : e.message;
  return new UsageError(`flag -${flag}: ${problem}${e.hint ? ` (${e.hint})` : ''}`);
}

/** One line for the failure (no secrets, no stack) and its exit code, as `reportFatal` decides for every binary. */
function reportFailure(io: AdminIo, label: string, e: unknown): number {
  if (e instanceof UsageError) {
    io.stderr(`${label}: ${redactSecrets(e.message)}\n`);
    return EXIT_USAGE;
  }
  io.stderr(`${label}: ${describeError(e)}\n`);
  if (e instanceof DuctError && e.code === 'invalid_argument') return EXIT_USAGE;
  return EXIT_FAILURE;
}
