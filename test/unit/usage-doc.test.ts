import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * docs/usage.md is the operator's reference: every environment variable, flag, command and
 * connector option the code reads must be listed there. These checks read the sources as text,
 * so a new variable, flag or option fails here until it is documented.
 */
const ROOT = join(__dirname, '..', '..');
const usage = readFileSync(join(ROOT, 'docs', 'usage.md'), 'utf8');
const read = (p: string): string => readFileSync(join(ROOT, p), 'utf8');

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const p = join(dir, name);
    return statSync(join(ROOT, p)).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function matches(text: string, re: RegExp): string[] {
  return [...text.matchAll(re)].map((m) => m[1]!);
}

/** Names that appear in usage.md inside backticks (`NAME`, `-flag X`, `a, b`), as whole words. */
function documented(name: string, prefix = ''): boolean {
  const escaped = (prefix + name).replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
  return new RegExp('`[^`\\n]*(?<![\\w-])' + escaped + '(?![\\w-])[^`\\n]*`').test(usage);
}

describe('docs/usage.md', () => {
  test('lists every environment variable read in src/config/env.ts', () => {
    const env = read('src/config/env.ts');
    const names = new Set([
      ...matches(env, /\benv\??\.([A-Z][A-Z0-9_]+)/g),
      ...matches(env, /\benv\[['"]([A-Z][A-Z0-9_]+)['"]\]/g),
      ...matches(env, /['"]((?:DUCTSTREAM|DBOS|AWS|SNOWFLAKE)_[A-Z0-9_]+)['"]/g),
    ]);
    expect(names.size).toBeGreaterThan(30);
    expect([...names].filter((n) => !documented(n))).toEqual([]);
  });

  test('no source file outside src/config/env.ts reads process.env', () => {
    const readers = tsFiles('src').filter((f) => f !== join('src', 'config', 'env.ts') && /process\.env\b/.test(read(f)));
    expect(readers).toEqual([]);
  });

  test('lists every flag, command and subcommand of the programs in src/cli', () => {
    const cli = tsFiles('src/cli').map(read).join('\n');
    const flags = new Set(matches(cli, /\bname:\s*'([a-z][a-z0-9-]*)',\s*type:\s*'(?:string|int|bool)'/g));
    expect(flags.size).toBeGreaterThan(15);
    expect([...flags].filter((f) => !documented(f, '-'))).toEqual([]);
    const commands = new Set(matches(cli, /\bname:\s*'([a-z][a-z-]*)',\s*summary:/g));
    expect(commands.size).toBeGreaterThan(4);
    expect([...commands].filter((c) => !documented(c))).toEqual([]);
  });

  test('lists every connector option and flow field the parsers read', () => {
    const parsers = [...tsFiles('src/source'), ...tsFiles('src/destinations'), 'src/config/options.ts'].map(read).join('\n');
    const options = new Set([
      ...matches(parsers, /\br\.(?:string|raw|optionalString|bool|required|has|int|number|durationMs|oneOf|list)\('([a-z_]+)'/g),
      ...matches(parsers, /\(r, '([a-z_]+)'/g),
      ...matches(parsers, /\br\.accept\(([^)]*)\)/g).flatMap((args) => matches(args, /'([a-z_]+)'/g)),
    ]);
    expect(options.size).toBeGreaterThan(90);
    expect([...options].filter((o) => !documented(o))).toEqual([]);
    const flowKeys = matches(read('src/config/flow.ts'), /FLOW_KEYS = \[([^\]]*)\]/g).flatMap((k) => matches(k, /'([a-z_]+)'/g));
    expect(flowKeys.length).toBeGreaterThan(5);
    expect(flowKeys.filter((k) => !documented(k))).toEqual([]);
  });

  test('every link to usage.md or design.md points at a file in the repository', () => {
    const files = ['README.md', 'docs/design.md', 'docs/usage.md', ...tsFiles('src')];
    const bad = files.flatMap((f) =>
      matches(read(f), /((?:[\w./-]*\/)?(?:usage|design)\.md)/g)
        .filter((ref) => !(f.startsWith('docs/') ? ['usage.md', 'design.md'] : ['docs/usage.md', 'docs/design.md']).includes(ref))
        .map((ref) => `${f}: ${ref}`),
    );
    expect(bad).toEqual([]);
  });
});
