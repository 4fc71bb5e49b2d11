#!/usr/bin/env node
/** The `flash-mla` command: info | demo | bench | simulate. */
import { packageVersion } from '../package-root.js';
import { UsageError, usageErrorText } from './args.js';

type Command = (argv: string[]) => Promise<number>;

// Each command's module loads only when it runs, so `info` never loads the CUDA binding.
const COMMANDS: Record<string, { run: Command; summary: string }> = {
  info: {
    run: async (argv) => (await import('./info.js')).runInfoCommand(argv),
    summary: 'version, and which backends can run here (and why not)',
  },
  demo: {
    run: async (argv) => (await import('./demo.js')).runDemoCommand(argv),
    summary: 'one MLA decode step on a random paged cache, checked',
  },
  bench: {
    run: async (argv) => (await import('./bench.js')).runBenchCommand(argv),
    summary: 'GPU benchmark suites: mla | gqa | writekv | overhead',
  },
  simulate: {
    run: async (argv) => (await import('./simulate.js')).runSimulateCommand(argv),
    summary: 'replay a request trace through the paged cache',
  },
};

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)}${c.summary}`);
  return [
    'Usage: flash-mla <command> [options]',
    '',
    'Commands:',
    ...rows,
    '',
    "Run 'flash-mla <command> --help' for a command's options.",
    '',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`flash-mla: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(usageErrorText(name, error.message));
      return 2;
    }
    throw error;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`flash-mla: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
