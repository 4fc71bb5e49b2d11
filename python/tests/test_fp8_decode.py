"""gqa_decode_with_kvcache over fp8_e4m3 caches (descale_k, descale_v; docs/fp8-kv-cache.md):
against a float32 torch reference over the dequantized caches, in both calling conventions, at
d 64 / 128 / 256 and pages of 1 and 16; and its argument checks (which run without a GPU)."""

import unittest

import flash_mla_ts

from gpu_probe import GPU_PROBLEM, TORCH_PROBLEM, torch
from test_current_api import _check_against_reference, _problem

FP8_PROBLEM = TORCH_PROBLEM or (
    None if hasattr(torch, "float8_e4m3fn") else f"torch {torch.__version__} has no float8_e4m3fn")


def e4m3_of(cache):
    """(codes, descale [1], dequantized) with descale amax / 448 over the finite values."""
    descale = (cache[torch.isfinite(cache)].float().abs().max() / 448).reshape(1)
    codes = (cache.float() / descale).clamp(-448, 448).to(torch.float8_e4m3fn)
    return codes, descale, codes.float() * descale


@unittest.skipIf(GPU_PROBLEM or FP8_PROBLEM, GPU_PROBLEM or FP8_PROBLEM)
class E4m3DecodeGpuTest(unittest.TestCase):
    def test_against_the_reference_over_the_dequantized_caches(self):
        cases = [dict(b=3, s_k=400, varlen=True, s_q=2, h_q=32, h_kv=8, d=128, page_size=16),
                 dict(b=2, s_k=300, varlen=True, s_q=1, h_q=8, h_kv=8, d=64, page_size=1),
                 dict(b=2, s_k=500, s_q=1, h_q=16, h_kv=1, d=256, page_size=16)]
        for k, case in enumerate(cases):
            with self.subTest(**case):
                p = _problem(9700 + k, **case)
                k8, descale_k, k_dq = e4m3_of(p.k_cache)
                v8, descale_v, v_dq = e4m3_of(p.v_cache)
                _, s_q, h_q, _ = p.q.shape
                h_kv = case["h_kv"]
                meta, splits = flash_mla_ts.get_mla_metadata(p.cache_seqlens, s_q * h_q // h_kv,
                                                             h_kv)
                out, lse = flash_mla_ts.gqa_decode_with_kvcache(
                    p.q, k8, v8, p.block_table, p.cache_seqlens, meta, splits, causal=True,
                    descale_k=descale_k, descale_v=descale_v)
                # The float64 reference over the dequantized values (float32, exact).
                dq = p.__class__(**{**p.__dict__, "k_cache": k_dq, "v_cache": v_dq})
                _check_against_reference(self, dq, out, lse, causal=True)
                sched, _ = flash_mla_ts.get_mla_metadata()
                for _ in range(2):  # built by the first call, reused by the second
                    out2, lse2 = flash_mla_ts.gqa_decode_with_kvcache(
                        p.q, k8, v8, p.block_table, p.cache_seqlens, sched, None, causal=True,
                        descale_k=descale_k, descale_v=descale_v)
                    self.assertTrue(torch.equal(out2, out) and torch.equal(lse2, lse))


    def test_more_than_16_query_rows_per_kv_head_is_refused(self):
        p = _problem(9790, b=2, s_k=100, s_q=2, h_q=16, h_kv=1, d=128, page_size=16)
        k8, descale_k, _ = e4m3_of(p.k_cache)
        v8, descale_v, _ = e4m3_of(p.v_cache)
        meta, splits = flash_mla_ts.get_mla_metadata(p.cache_seqlens, 32, 1)
        with self.assertRaisesRegex(flash_mla_ts.UnsupportedError, "at most 16 query rows"):
            flash_mla_ts.gqa_decode_with_kvcache(p.q, k8, v8, p.block_table, p.cache_seqlens,
                                                 meta, splits, descale_k=descale_k,
                                                 descale_v=descale_v)


@unittest.skipIf(FP8_PROBLEM, FP8_PROBLEM)
class E4m3DecodeArgumentTest(unittest.TestCase):
    def test_wrong_combinations_name_the_argument(self):
        q = torch.zeros(2, 1, 8, 128, dtype=torch.bfloat16)
        fp8 = torch.zeros(4, 16, 2, 128, dtype=torch.float8_e4m3fn)
        bf16 = torch.zeros(4, 16, 2, 128, dtype=torch.bfloat16)
        table = torch.zeros(2, 3, dtype=torch.int32)
        lens = torch.zeros(2, dtype=torch.int32)
        meta = torch.zeros(4, 8, dtype=torch.int32)
        splits = torch.zeros(3, dtype=torch.int32)
        one = torch.ones(1)

        def call(k, v, **scales):
            return flash_mla_ts.gqa_decode_with_kvcache(q, k, v, table, lens, meta, splits,
                                                        **scales)

        cases = [
            ("descale_v", lambda: call(fp8, fp8, descale_k=one)),
            ("descale_k", lambda: call(fp8, fp8, descale_v=one)),
            ("descale_k", lambda: call(fp8, fp8, descale_k=torch.ones(2), descale_v=one)),
            ("descale_v", lambda: call(fp8, fp8, descale_k=one, descale_v=one.half())),
            ("k_cache", lambda: call(bf16, bf16, descale_k=one, descale_v=one)),
            ("v_cache", lambda: call(fp8, bf16, descale_k=one, descale_v=one)),
            ("k_cache", lambda: call(fp8, fp8)),
        ]
        for argument, bad in cases:
            with self.subTest(argument=argument):
                with self.assertRaises(flash_mla_ts.ArgumentError) as caught:
                    bad()
                self.assertEqual(caught.exception.argument, argument)


if __name__ == "__main__":
    unittest.main()
