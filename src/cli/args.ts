/** A small, strict flag parser for the CLI: unknown flags and bad values are usage errors (exit 2). */
import { maxOf } from '../extremes.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

export type FlagKind = 'string' | 'int' | 'number' | 'boolean' | 'int-list';

export interface FlagSpec {
  readonly kind: FlagKind;
  readonly help: string;
  readonly choices?: readonly string[];
  readonly default?: string | number | boolean | readonly number[];
  /** Bounds of an int, int-list or number flag (inclusive); ints are safe integers in any case. */
  readonly min?: number;
  readonly max?: number;
}

/** Whether the caller asked for a command's help: `--help` or `-h`, anywhere. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

/** `v` within the flag's bounds, else a usage error naming the flag and the bounds. */
function checkBounds(name: string, spec: FlagSpec, kind: string, raw: string, v: number): number {
  const min = spec.min ?? -Infinity;
  const max = spec.max ?? Infinity;
  if (v >= min && v <= max) return v;
  const range =
    max === Infinity ? `>= ${min}` : min === -Infinity ? `<= ${max}` : `in [${min}, ${max}]`;
  throw new UsageError(`--${name}: expected ${kind} ${range}, got '${raw}'`);
}

export type FlagValues = Record<string, string | number | boolean | number[] | undefined>;

function parseValue(name: string, spec: FlagSpec, raw: string): string | number | number[] {
  const asInt = (s: string): number => {
    const v = Number(s);
    if (!/^-?\d+$/.test(s)) throw new UsageError(`--${name}: expected an integer, got '${s}'`);
    if (!Number.isSafeInteger(v)) {
      throw new UsageError(`--${name}: expected an integer of at most 2^53 - 1, got '${s}'`);
    }
    return checkBounds(name, spec, 'an integer', s, v);
  };
  switch (spec.kind) {
    case 'int':
      return asInt(raw);
    case 'int-list':
      return raw.split(',').map(asInt);
    case 'number': {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(v)) {
        throw new UsageError(`--${name}: expected a number, got '${raw}'`);
      }
      return checkBounds(name, spec, 'a number', raw, v);
    }
    default:
      if (spec.choices && !spec.choices.includes(raw)) {
        throw new UsageError(`--${name}: expected one of ${spec.choices.join(', ')}, got '${raw}'`);
      }
      return raw;
  }
}

/** Parses `--flag value`, `--flag=value` and boolean `--flag`; returns the values and positionals. */
export function parseFlags(
  argv: readonly string[],
  specs: Readonly<Record<string, FlagSpec>>,
): { values: FlagValues; positionals: string[] } {
  const values: FlagValues = {};
  for (const [name, spec] of Object.entries(specs)) {
    const d = spec.default;
    values[name] = Array.isArray(d) ? [...d] : (d as string | number | boolean | undefined);
  }
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (/^-[^-\d]/.test(arg)) throw new UsageError(`unknown flag ${arg}`);
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = specs[name];
    if (!spec) throw new UsageError(`unknown flag --${name}`);
    if (spec.kind === 'boolean') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      values[name] = true;
      continue;
    }
    const raw = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (raw === undefined) throw new UsageError(`--${name} needs a value`);
    values[name] = parseValue(name, spec, raw);
  }
  return { values, positionals };
}

/** The help text of a command: usage line, description, then one line per flag. */
export function formatHelp(
  usage: string,
  description: string,
  specs: Readonly<Record<string, FlagSpec>>,
): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const value = spec.kind === 'boolean' ? '' : ` <${spec.choices?.join('|') ?? spec.kind}>`;
    const d = spec.default === undefined ? '' : ` (default ${String(spec.default)})`;
    return [`  --${name}${value}`, `${spec.help}${d}`];
  });
  const width = maxOf(rows.map(([left]) => left.length).concat('  -h, --help'.length)) + 2;
  const lines = rows.map(([left, right]) => left.padEnd(width) + right);
  return [
    `Usage: ${usage}`,
    '',
    description,
    '',
    'Options:',
    ...lines,
    '  -h, --help'.padEnd(width) + 'show this help',
    '',
  ].join('\n');
}
