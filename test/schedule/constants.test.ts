// The schedule's constants are stated three times: here, in the C header the kernels build against,
// and in docs/schedule.md. They must agree, or the CPU and GPU schedules silently differ.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/package-root.js';
import {
  BLOCK_M,
  BLOCK_N,
  FIXED_OVERHEAD_BLOCKS,
  METADATA_ROW_WIDTH,
  numSmPartsFor,
} from '../../src/schedule/index.js';

const CONSTANTS: Readonly<Record<string, number>> = {
  BLOCK_M,
  BLOCK_N,
  FIXED_OVERHEAD_BLOCKS,
  METADATA_ROW_WIDTH,
};

/** The C name of each constant (METADATA_ROW_WIDTH is counted in ints there). */
const C_NAMES: Readonly<Record<string, string>> = {
  BLOCK_M: 'FMLA_BLOCK_M',
  BLOCK_N: 'FMLA_BLOCK_N',
  FIXED_OVERHEAD_BLOCKS: 'FMLA_FIXED_OVERHEAD_BLOCKS',
  METADATA_ROW_WIDTH: 'FMLA_METADATA_INTS',
};

function repoFile(...path: string[]): string {
  return readFileSync(join(packageRoot(), ...path), 'utf8');
}

/** `name -> value` for every `#define NAME <integer>` of the text. */
function cDefines(header: string): Map<string, number> {
  const defines = new Map<string, number>();
  for (const m of header.matchAll(/^#define\s+(\w+)\s+(-?\d+)\s*$/gm)) defines.set(m[1], +m[2]);
  return defines;
}

/** `name -> value` for every row "| `NAME` | value | why |" of the text's tables. */
function docRows(markdown: string): Map<string, number> {
  const rows = new Map<string, number>();
  for (const m of markdown.matchAll(/^\|\s*`(\w+)`\s*\|\s*(-?\d+)\s*\|/gm)) rows.set(m[1], +m[2]);
  return rows;
}

test('csrc/include/flash_mla.h defines the same schedule constants', () => {
  const defines = cDefines(repoFile('csrc', 'include', 'flash_mla.h'));
  for (const [name, value] of Object.entries(CONSTANTS)) {
    assert.equal(defines.get(C_NAMES[name]), value, `${C_NAMES[name]} in flash_mla.h`);
  }
});

test("docs/schedule.md's constants table states the same values", () => {
  const rows = docRows(repoFile('docs', 'schedule.md'));
  for (const [name, value] of Object.entries(CONSTANTS)) {
    assert.equal(rows.get(name), value, `${name} in docs/schedule.md`);
  }
});

test('numSmParts follows the formula', () => {
  assert.equal(numSmPartsFor(132, 16, 1), 132); // s_q = 1, h_q = 16: one row block
  assert.equal(numSmPartsFor(132, 128, 1), 66); // two row blocks of 64
  assert.equal(numSmPartsFor(132, 65, 1), 66);
  assert.equal(numSmPartsFor(132, 4, 8), 16); // GQA: one part per SM and KV head
  assert.equal(numSmPartsFor(132, 4, 200), 1); // never fewer than one part
  assert.equal(numSmPartsFor(1, 512, 1), 1);
});
