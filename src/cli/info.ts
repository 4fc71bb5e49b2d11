/** `flash-mla info`: the version and, for each backend, whether it runs here and why not. */
import { probeCuda } from '../backend/cuda/probe.js';
import { packageVersion } from '../package-root.js';
import { formatHelp, parseFlags, wantsHelp, type FlagSpec } from './args.js';

const FLAGS: Record<string, FlagSpec> = {
  json: { kind: 'boolean', help: 'print the report as JSON' },
};

export async function runInfoCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(
      formatHelp(
        'flash-mla info [--json]',
        'Shows the version and which backends can run here.',
        FLAGS,
      ),
    );
    return 0;
  }
  const { values } = parseFlags(argv, FLAGS);
  const cuda = probeCuda();
  const report = {
    version: packageVersion(),
    node: process.version,
    backends: [
      { name: 'cpu', available: true, detail: 'TypeScript reference backend' },
      cuda.available
        ? {
            name: 'cuda',
            available: true,
            detail: cuda.devices
              .map((d) => `#${d.index} ${d.name} (sm_${d.computeCapability}, ${d.smCount} SMs)`)
              .join('; '),
            library: cuda.libraryPath,
          }
        : { name: 'cuda', available: false, detail: cuda.reason, library: cuda.libraryPath },
    ],
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  const lines = [`flash-mla-ts ${report.version} (node ${report.node})`, 'backends:'];
  for (const b of report.backends) {
    lines.push(`  ${b.name.padEnd(5)} ${b.available ? 'available  ' : 'unavailable'}  ${b.detail}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
