/**
 * `flash-mla info`: the version, for each backend whether it runs here and why not, and which native
 * library was found (and why that one).
 */
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
        'Shows the version, which backends can run here, and which native library was found and why.',
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
            library: cuda.library,
          }
        : { name: 'cuda', available: false, detail: cuda.reason, library: cuda.library },
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
  // Which library, and why that one; where none was found, the cuda line above says why.
  if (cuda.library.found) {
    lines.push(`native library: ${cuda.library.path}`, `  why this one: ${cuda.library.reason}`);
  } else {
    lines.push('native library: none found');
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
