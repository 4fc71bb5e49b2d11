// Generated blocks in Markdown files: the text between <!-- NAME:begin --> and <!-- NAME:end -->.

import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

/** `text` with the block between NAME's markers replaced by `block`; throws when they are missing. */
export function replaceBetweenMarkers(text, block, where, name) {
  const BEGIN = `<!-- ${name}:begin -->`;
  const END = `<!-- ${name}:end -->`;
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (begin < 0 || end < 0 || end < begin)
    throw new Error(
      `${where}: expected the markers ${BEGIN} and ${END}, in that order, around the table to ` +
        `replace (found ${begin < 0 ? 'no' : 'a'} begin marker, ${end < 0 ? 'no' : 'an'} end marker)`,
    );
  return `${text.slice(0, begin + BEGIN.length)}\n${block}\n${text.slice(end)}`;
}

/**
 * The command line of a script that makes one result file into a block: `FILE [--write TARGET]`
 * prints render(FILE's JSON, FILE's base name), or puts it between NAME's markers in TARGET.
 * Returns the exit code: 2, with a usage line naming `script`, when the arguments do not fit.
 */
export function renderResultFile(argv, script, name, render) {
  const write = argv.indexOf('--write');
  const target = write >= 0 ? argv[write + 1] : undefined;
  const files = write >= 0 ? argv.filter((_, k) => k !== write && k !== write + 1) : argv;
  if (files.length !== 1 || (write >= 0 && !target)) {
    process.stderr.write(`usage: node scripts/${script} FILE [--write README.md]\n`);
    return 2;
  }
  const block = render(JSON.parse(readFileSync(files[0], 'utf8')), basename(files[0]));
  if (target)
    writeFileSync(target, replaceBetweenMarkers(readFileSync(target, 'utf8'), block, target, name));
  else process.stdout.write(`${block}\n`);
  return 0;
}
