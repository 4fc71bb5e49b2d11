// The benchmark suites as data: the GQA rows are those bench/gqa_vs_sdpa.py measures, with the
// fields `flash-mla bench gqa` runs them by, and the same byte count.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  GQA_DEFAULTS,
  GQA_SUITE,
  gqaRates,
  gqaTarget,
  type GqaRow,
} from '../../src/bench/suites.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** suite(False) of bench/gqa_vs_sdpa.py, run alone (the script itself needs torch and a GPU). */
const SUITE_OF_SCRIPT = `
import ast, json, sys
path = sys.argv[1]
tree = ast.parse(open(path).read())
suite = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "suite"]
namespace = {}
exec(compile(ast.Module(body=suite, type_ignores=[]), path, "exec"), namespace)
print(json.dumps(namespace["suite"](False)))
`;

type ScriptRow = [string, number, number, number, number, boolean, number, number | null, number];

function scriptRows(): ScriptRow[] | string {
  const r = spawnSync('python3', ['-c', SUITE_OF_SCRIPT, join(root, 'bench', 'gqa_vs_sdpa.py')], {
    encoding: 'utf8',
  });
  if (r.error) return `python3 not found: ${r.error.message}`;
  if (r.status !== 0) throw new Error(`suite() of bench/gqa_vs_sdpa.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ScriptRow[];
}

const script = scriptRows();

test(
  'the GQA suite has the rows of bench/gqa_vs_sdpa.py, in its order',
  { skip: typeof script === 'string' ? script : false },
  () => {
    const expected = (script as ScriptRow[]).map(
      ([group, d, hQ, hKv, sQ, causal, b, sK, pageSize]) => ({
        group,
        d,
        hQ,
        hKv,
        sQ,
        causal,
        b,
        // The script's varlen rows (s_k None) draw lengths around 4096.
        sK: sK ?? 4096,
        varlen: sK === null,
        pageSize,
      }),
    );
    const got = GQA_SUITE.map(({ group, d, hQ, hKv, sQ, causal, b, sK, varlen, pageSize }) => ({
      group,
      d,
      hQ,
      hKv,
      sQ,
      causal,
      b,
      sK,
      varlen,
      pageSize,
    }));
    assert.deepEqual(got, expected);
  },
);

test('the GQA suite: 51 rows in six groups, each shape at page sizes 16 and 1', () => {
  assert.equal(GQA_SUITE.length, 51);
  const count = (group: GqaRow['group']): number =>
    GQA_SUITE.filter((r) => r.group === group).length;
  assert.deepEqual(
    ['core', 'head dim', 'heads', 's_q causal', 'small batch', 'varlen'].map((g) =>
      count(g as GqaRow['group']),
    ),
    [27, 4, 8, 4, 6, 2],
  );
  for (const r of GQA_SUITE) {
    assert.ok([1, 16, 64].includes(r.pageSize), `page size ${r.pageSize}`);
    assert.equal(r.hQ % r.hKv, 0, 'whole groups of query heads per KV head');
    assert.equal(r.causal, r.sQ > 1, 'causal exactly when s_q > 1');
    assert.equal(r.varlen, r.group === 'varlen');
    assert.equal(r.target, gqaTarget(r.sK));
  }
  const pagesOf = (group: GqaRow['group']): number[] => [
    ...new Set(GQA_SUITE.filter((r) => r.group === group).map((r) => r.pageSize)),
  ];
  assert.deepEqual(pagesOf('core'), [16, 1, 64]);
  assert.deepEqual(pagesOf('heads'), [16, 1]);
  assert.deepEqual(
    GQA_SUITE.filter((r) => r.group === 'head dim').map((r) => [r.d, r.pageSize]),
    [
      [64, 16],
      [64, 1],
      [256, 16],
      [256, 1],
    ],
  );
});

test('the GQA core rows keep the defaults but for b and s_k', () => {
  const core = GQA_SUITE.filter((r) => r.group === 'core');
  for (const r of core) {
    assert.deepEqual(
      [r.d, r.hQ, r.hKv, r.sQ, r.causal, r.varlen],
      [GQA_DEFAULTS.d, GQA_DEFAULTS.hQ, GQA_DEFAULTS.hKv, 1, false, false],
    );
  }
  assert.deepEqual(
    core.slice(0, 9).map((r) => [r.b, r.sK]),
    [64, 128, 256].flatMap((b) => [1024, 4096, 8192].map((sK) => [b, sK])),
  );
});

test('GQA targets: copy speed from s_k 4096, 90% of it below', () => {
  assert.equal(gqaTarget(1024), '>= 90% of copy');
  assert.equal(gqaTarget(4096), '>= 100% of copy');
  assert.equal(gqaTarget(32768), '>= 100% of copy');
});

test('GQA bytes: K and V of every attended key, q and out, 2 bytes each', () => {
  const r = { b: 2, sQ: 4, hQ: 32, hKv: 8, d: 128 };
  const { gbps, tflops } = gqaRates(r, 1000, 1e-3);
  const kv = 2 * 1000 * 8 * 128 * 2;
  const qOut = 2 * 4 * 32 * 128 * 2;
  assert.ok(Math.abs(gbps - (2 * (kv + qOut)) / 1e-3 / 1e9) < 1e-9);
  assert.ok(Math.abs(tflops - (2 * 32 * 4 * 4 * 128 * 1000) / 1e-3 / 1e12) < 1e-12);
});
