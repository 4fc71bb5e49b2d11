/** A small, strict flag parser for the CLI: unknown flags and bad values are usage errors (exit 2). */
import { maxOf } from '../extremes.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

/** The lists (`-list`) are comma-separated. */
export type FlagKind =
  'string' | 'int' | 'number' | 'boolean' | 'int-list' | 'number-list' | 'string-list';

export interface FlagSpec {
  readonly kind: FlagKind;
  /** The flag's line in a help text made by `formatHelp`. */
  readonly help?: string;
  /** The values a string or string-list flag takes (the items of a list are trimmed). */
  readonly choices?: readonly string[];
  /** Words an int-list or number-list flag takes as items beside numbers (trimmed, kept as strings). */
  readonly words?: readonly string[];
  readonly default?: string | number | boolean | readonly (number | string)[];
  /** Bounds of an int, number or list flag (inclusive); ints are safe integers in any case. */
  readonly min?: number;
  readonly max?: number;
  /** `min` itself is not allowed. */
  readonly minExclusive?: boolean;
}

/** Whether the caller asked for a command's help: `--help` or `-h`, anywhere. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

/** The message of a usage error of `command`, as every command prints it on stderr (exit 2). */
export function usageErrorText(command: string, message: string): string {
  return `flash-mla ${command}: ${message}\nRun 'flash-mla ${command} --help' for the options.\n`;
}

/** `v` within the flag's bounds, else a usage error naming the flag and the bounds. */
function checkBounds(name: string, spec: FlagSpec, kind: string, raw: string, v: number): number {
  const min = spec.min ?? -Infinity;
  const max = spec.max ?? Infinity;
  const aboveMin = spec.minExclusive ? v > min : v >= min;
  if (aboveMin && v <= max) return v;
  const low = spec.minExclusive ? '>' : '>=';
  const range =
    max === Infinity
      ? `${low} ${min}`
      : min === -Infinity
        ? `<= ${max}`
        : `in ${spec.minExclusive ? '(' : '['}${min}, ${max}]`;
  throw new UsageError(`--${name}: expected ${kind} ${range}, got '${raw}'`);
}

export type FlagValue = string | number | boolean | (number | string)[];
export type FlagValues = Record<string, FlagValue | undefined>;

/** One number of an int or number flag (or list item), checked against the flag's bounds. */
function parseNumber(name: string, spec: FlagSpec, integer: boolean, s: string): number {
  const v = s.trim() === '' ? NaN : Number(s);
  if (!Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new UsageError(`--${name}: expected ${integer ? 'an integer' : 'a number'}, got '${s}'`);
  }
  if (integer && !Number.isSafeInteger(v)) {
    throw new UsageError(`--${name}: expected an integer of at most 2^53 - 1, got '${s}'`);
  }
  return checkBounds(name, spec, integer ? 'an integer' : 'a number', s, v);
}

/** `s` if it is one of the flag's choices (or it has none), else a usage error listing them. */
function parseChoice(name: string, spec: FlagSpec, s: string): string {
  if (spec.choices && !spec.choices.includes(s)) {
    throw new UsageError(`--${name}: expected one of ${spec.choices.join(', ')}, got '${s}'`);
  }
  return s;
}

function parseValue(name: string, spec: FlagSpec, raw: string): FlagValue {
  const item = (s: string): number | string => {
    if (spec.words?.includes(s.trim())) return s.trim();
    return parseNumber(name, spec, spec.kind === 'int-list', s);
  };
  switch (spec.kind) {
    case 'int':
    case 'number':
      return parseNumber(name, spec, spec.kind === 'int', raw);
    case 'int-list':
    case 'number-list':
      return raw.split(',').map(item);
    case 'string-list':
      return raw.split(',').map((s) => parseChoice(name, spec, s.trim()));
    default:
      return parseChoice(name, spec, raw);
  }
}

/**
 * Parses `--flag value`, `--flag=value` and boolean `--flag` (a value may start with `-`, as a
 * negative number does); returns the values and positionals. More than `maxPositionals` positional
 * arguments is a usage error naming the first one too many.
 */
export function parseFlags(
  argv: readonly string[],
  specs: Readonly<Record<string, FlagSpec>>,
  maxPositionals = 0,
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
      if (positionals.length >= maxPositionals) {
        throw new UsageError(`unexpected argument '${arg}'`);
      }
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
    return [`  --${name}${value}`, `${spec.help ?? ''}${d}`];
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
