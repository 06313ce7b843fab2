/**
 * Command-line flags in the Go style the usage guide shows: `-flow-id X`, `-flow-id=X`,
 * `--flow-id X`; booleans as `-pause` or `-pause=false`. Misuse throws {@link UsageError},
 * which the binaries turn into one line on stderr and exit code 2.
 */

export type FlagType = 'string' | 'int' | 'bool';

export interface FlagSpec {
  name: string;
  type: FlagType;
  help: string;
  /** Shown in help; for ints also the minimum accepted value. */
  placeholder?: string;
  min?: number;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type FlagValues = Record<string, string | number | boolean | undefined>;

export interface ParsedFlags {
  values: FlagValues;
  /** Arguments that are not flags (subcommands), in order. */
  positional: string[];
  help: boolean;
}

export function parseFlags(argv: string[], specs: FlagSpec[], opts: { allowPositional?: boolean } = {}): ParsedFlags {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const values: FlagValues = {};
  const positional: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help' || arg === '-help') {
      help = true;
      continue;
    }
    if (!arg.startsWith('-') || arg === '-') {
      if (!opts.allowPositional) throw new UsageError(`unexpected argument "${arg}"; flags start with -, see -h`);
      positional.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const spec = byName.get(name);
    if (!spec) throw new UsageError(`unknown flag -${name}; known flags: ${specs.map((s) => '-' + s.name).join(', ')}`);
    let raw: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
    if (spec.type === 'bool') {
      if (raw === undefined) values[name] = true;
      else if (/^(true|1|yes)$/i.test(raw)) values[name] = true;
      else if (/^(false|0|no)$/i.test(raw)) values[name] = false;
      else throw new UsageError(`flag -${name}: "${raw}" is not a boolean; use -${name} or -${name}=false`);
      continue;
    }
    if (raw === undefined) {
      raw = argv[++i];
      if (raw === undefined) throw new UsageError(`flag -${name} needs a value${spec.placeholder ? ` (${spec.placeholder})` : ''}`);
    }
    if (spec.type === 'int') {
      if (!/^-?\d+$/.test(raw.trim())) throw new UsageError(`flag -${name}: "${raw}" is not a whole number`);
      const n = Number(raw);
      if (spec.min !== undefined && n < spec.min) throw new UsageError(`flag -${name}: ${n} is below the minimum ${spec.min}`);
      values[name] = n;
    } else {
      values[name] = raw;
    }
  }
  return { values, positional, help };
}

export function formatHelp(usage: string, specs: FlagSpec[]): string {
  const width = Math.max(...specs.map((s) => s.name.length + (s.placeholder ? s.placeholder.length + 1 : 0))) + 3;
  const lines = specs.map((s) => `  -${(s.name + (s.placeholder ? ' ' + s.placeholder : '')).padEnd(width)}${s.help}`);
  return `${usage}\n\nFlags:\n${lines.join('\n')}\n`;
}
