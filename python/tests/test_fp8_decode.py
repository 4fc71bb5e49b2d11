"""Decodes over FP8 caches (docs/fp8-kv-cache.md). gqa_decode_with_kvcache over fp8_e4m3 caches
(descale_k, descale_v): against a float32 torch reference over the dequantized caches, in both
calling conventions, at d 64 / 128 / 256 and pages of 1 and 16, and under torch.compile; its
argument checks, its torch operators on meta tensors and a torch.compile trace on them (which run
without a GPU). flash_mla_with_kvcache over caches write_kv quantized into fp8_ds_mla
(is_fp8_kvcache=True) and fp8_e4m3 (descale_k), against the reference over their dequantized
values, in both calling conventions, and under torch.compile (its operators on meta tensors and a
whole-graph trace without a GPU, the same bits as eager on one); float8_e4m3fn queries (descale_q) over fp8_e4m3."""

import unittest

import flash_mla_ts

from flash_mla_ts import _ops

from gpu_probe import GPU_PROBLEM, TORCH_PROBLEM, torch
from test_current_api import COMPILE_PROBLEM, OPS_PROBLEM, _check_against_reference, _problem

FP8_PROBLEM = TORCH_PROBLEM or (
    None if hasattr(torch, "float8_e4m3fn") else f"torch {torch.__version__} has no float8_e4m3fn")
TRACE_PROBLEM = FP8_PROBLEM or OPS_PROBLEM or (
    None if hasattr(torch, "compile") else f"torch {torch.__version__} has no torch.compile")


def e4m3_of(cache):
    """(codes, descale [1], dequantized) with descale amax / 448 over the finite values."""
    descale = (cache[torch.isfinite(cache)].float().abs().max() / 448).reshape(1)
    codes = (cache.float() / descale).clamp(-448, 448).to(torch.float8_e4m3fn)
    return codes, descale, codes.float() * descale


def ds_mla_values(cache):
    """The float32 values [num_pages, page_size, 1, 576] of an fp8_ds_mla cache (656-byte rows)."""
    raw = cache.view(torch.uint8)
    codes = raw[..., :512].contiguous().view(torch.float8_e4m3fn).float()
    scales = raw[..., 512:528].contiguous().view(torch.float32)
    rope = raw[..., 528:].contiguous().view(torch.bfloat16).float()
    latent = (codes.unflatten(-1, (4, 128)) * scales.unsqueeze(-1)).flatten(-2)
    return torch.cat([latent, rope], dim=-1)


@unittest.skipIf(GPU_PROBLEM or FP8_PROBLEM, GPU_PROBLEM or FP8_PROBLEM)
class MlaFp8DecodeGpuTest(unittest.TestCase):
    def test_against_the_reference_over_the_dequantized_cache(self):
        cases = [dict(b=3, s_k=400, varlen=True, s_q=2, h_q=32, page_size=16),
                 dict(b=2, s_k=300, varlen=True, s_q=1, h_q=16, page_size=1),
                 dict(b=2, s_k=700, s_q=1, h_q=128, page_size=64)]
        for k, case in enumerate(cases):
            p = _problem(9800 + k, **case)
            num_pages, page_size = p.k_cache.shape[:2]
            rows = p.k_cache.reshape(-1, 1, 576)
            slots = torch.arange(rows.shape[0], dtype=torch.int32, device="cuda")
            _, s_q, h_q, _ = p.q.shape
            meta, splits = flash_mla_ts.get_mla_metadata(p.cache_seqlens, s_q * h_q, 1)
            for fmt in ("fp8_ds_mla", "fp8_e4m3"):
                with self.subTest(format=fmt, **case):
                    if fmt == "fp8_ds_mla":
                        cache = torch.zeros(num_pages, page_size, 1, 656, dtype=torch.uint8,
                                            device="cuda").view(torch.float8_e4m3fn)
                        flash_mla_ts.write_kv(cache, rows, slots, is_fp8_kvcache=True)
                        values, options = ds_mla_values(cache), dict(is_fp8_kvcache=True)
                    else:
                        cache, descale, _ = e4m3_of(p.k_cache)
                        values, options = cache.float() * descale, dict(descale_k=descale)
                    out, lse = flash_mla_ts.flash_mla_with_kvcache(
                        p.q, cache, p.block_table, p.cache_seqlens, 512, meta, splits,
                        causal=True, **options)
                    dq = p.__class__(**{**p.__dict__, "k_cache": values})
                    _check_against_reference(self, dq, out, lse, causal=True)
                    sched, _ = flash_mla_ts.get_mla_metadata()
                    for _ in range(2):  # built by the first call, reused by the second
                        out2, lse2 = flash_mla_ts.flash_mla_with_kvcache(
                            p.q, cache, p.block_table, p.cache_seqlens, 512, sched, causal=True,
                            **options)
                        self.assertTrue(torch.equal(out2, out) and torch.equal(lse2, lse))

    def test_e4m3_queries_over_fp8_e4m3(self):
        """float8_e4m3fn q with descale_q: bf16 out against the reference over the dequantized
        queries and cache, 16 and 32 rows (scores on the FP8 tensor cores) and 128 (64-row kernel)."""
        cases = [dict(b=3, s_k=400, varlen=True, s_q=1, h_q=16, page_size=16),
                 dict(b=2, s_k=300, varlen=True, s_q=2, h_q=16, page_size=1),
                 dict(b=2, s_k=500, varlen=True, s_q=1, h_q=32, page_size=64),
                 dict(b=2, s_k=700, s_q=1, h_q=128, page_size=64)]
        for k, case in enumerate(cases):
            with self.subTest(**case):
                p = _problem(9850 + k, **case)
                _, s_q, h_q, _ = p.q.shape
                meta, splits = flash_mla_ts.get_mla_metadata(p.cache_seqlens, s_q * h_q, 1)
                cache, descale_k, values = e4m3_of(p.k_cache)
                q8, descale_q, q_values = e4m3_of(p.q)
                out, lse = flash_mla_ts.flash_mla_with_kvcache(
                    q8, cache, p.block_table, p.cache_seqlens, 512, meta, splits, causal=True,
                    descale_q=descale_q, descale_k=descale_k)
                self.assertEqual(out.dtype, torch.bfloat16)
                dq = p.__class__(**{**p.__dict__, "k_cache": values, "q": q_values})
                _check_against_reference(self, dq, out, lse, causal=True)
                with self.assertRaises(flash_mla_ts.ArgumentError) as caught:
                    flash_mla_ts.flash_mla_with_kvcache(
                        q8, cache, p.block_table, p.cache_seqlens, 512, meta, splits,
                        descale_k=descale_k)
                self.assertEqual(caught.exception.argument, "descale_q")


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
                # float8_e4m3fn queries (descale_q): bf16 out over the dequantized queries.
                q8, descale_q, q_dq = e4m3_of(p.q)
                out8, lse8 = flash_mla_ts.gqa_decode_with_kvcache(
                    q8, k8, v8, p.block_table, p.cache_seqlens, meta, splits, causal=True,
                    descale_q=descale_q, descale_k=descale_k, descale_v=descale_v)
                self.assertEqual(out8.dtype, torch.bfloat16)
                dq8 = p.__class__(**{**dq.__dict__, "q": q_dq})
                _check_against_reference(self, dq8, out8, lse8, causal=True)

    def test_more_than_16_query_rows_per_kv_head(self):
        """32 rows of one KV head: two blocks of 16, each over all its keys."""
        p = _problem(9790, b=2, s_k=300, varlen=True, s_q=2, h_q=16, h_kv=1, d=128, page_size=16)
        k8, descale_k, k_dq = e4m3_of(p.k_cache)
        v8, descale_v, v_dq = e4m3_of(p.v_cache)
        meta, splits = flash_mla_ts.get_mla_metadata(p.cache_seqlens, 32, 1)
        out, lse = flash_mla_ts.gqa_decode_with_kvcache(
            p.q, k8, v8, p.block_table, p.cache_seqlens, meta, splits, causal=True,
            descale_k=descale_k, descale_v=descale_v)
        dq = p.__class__(**{**p.__dict__, "k_cache": k_dq, "v_cache": v_dq})
        _check_against_reference(self, dq, out, lse, causal=True)


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
            ("descale_q", lambda: call(bf16, bf16, descale_q=one)),
            ("q", lambda: call(fp8, fp8, descale_q=one, descale_k=one, descale_v=one)),
        ]
        for argument, bad in cases:
            with self.subTest(argument=argument):
                with self.assertRaises(flash_mla_ts.ArgumentError) as caught:
                    bad()
                self.assertEqual(caught.exception.argument, argument)


def _recording_backend(seen):
    """A torch.compile backend that records each graph's called functions in `seen`."""
    def backend(graph, example_inputs):
        seen.append([n.target for n in graph.graph.nodes if n.op == "call_function"])
        return graph.forward
    return backend


def _assert_compiled_is_eager(test, step, inputs, out_shape):
    """step(*inputs, out, lse) compiled whole (into new outputs, which it returns, and into the
    preallocated NaN-filled out / lse) gives the eager call's bits."""
    b, s_q, h_q, _ = out_shape
    out = torch.full(out_shape, float("nan"), dtype=torch.bfloat16, device="cuda")
    lse = torch.full((b, h_q, s_q), float("nan"), device="cuda")
    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    got_out, got_lse = compiled(*inputs, out, lse)
    want_out, want_lse = step(*inputs, torch.empty_like(out), torch.empty_like(lse))
    for got in (got_out, out):
        test.assertTrue(torch.equal(got, want_out))
    for got in (got_lse, lse):
        test.assertTrue(torch.equal(got, want_lse))


def _meta_problem(cache_dtype=None):
    """A GQA decode's tensors on the meta device (h_q 8, h_kv 2, d 128, page 16), e4m3 caches."""
    meta = dict(device="meta")
    cache = torch.empty(4, 16, 2, 128, dtype=cache_dtype or torch.float8_e4m3fn, **meta)
    return dict(q=torch.empty(2, 1, 8, 128, dtype=torch.bfloat16, **meta), k_cache=cache,
                v_cache=cache, block_table=torch.empty(2, 3, dtype=torch.int32, **meta),
                cache_seqlens=torch.empty(2, dtype=torch.int32, **meta),
                metadata=torch.empty(4, 8, dtype=torch.int32, **meta),
                num_splits=torch.empty(3, dtype=torch.int32, **meta),
                descale_k=torch.empty(1, **meta), descale_v=torch.empty(1, **meta))


@unittest.skipIf(TRACE_PROBLEM, TRACE_PROBLEM)
class E4m3DecodeTraceTest(unittest.TestCase):
    """What torch.compile sees of the e4m3 call: its operators' fake implementations (shapes and the
    same argument checks) and a whole-graph trace, on meta tensors."""

    def setUp(self):
        mode = torch.inference_mode()  # older torch has no autograd fallback for meta tensors
        mode.__enter__()
        self.addCleanup(mode.__exit__, None, None, None)

    def test_operators_on_meta_tensors(self):
        t = _meta_problem()
        ops = torch.ops.flash_mla_ts
        args = (t["q"], t["k_cache"], t["v_cache"], t["block_table"], t["cache_seqlens"],
                t["metadata"], t["num_splits"], 0.1, False, t["descale_k"], t["descale_v"], None)
        out, lse = ops.gqa_decode_e4m3(*args)
        self.assertEqual((tuple(out.shape), out.dtype), ((2, 1, 8, 128), torch.bfloat16))
        self.assertEqual((tuple(lse.shape), lse.dtype), ((2, 8, 1), torch.float32))
        ops.gqa_decode_e4m3_out(*args, torch.empty(2, 1, 8, 128, dtype=torch.bfloat16,
                                                    device="meta"),
                                torch.empty(2, 8, 1, device="meta"))
        bf16 = _meta_problem(torch.bfloat16)["k_cache"]
        q8 = torch.empty(2, 1, 8, 128, dtype=torch.float8_e4m3fn, device="meta")
        scale = torch.empty(1, device="meta")
        out, _ = ops.gqa_decode_e4m3(q8, *args[1:-1], scale)  # e4m3 queries: bf16 out
        self.assertEqual((tuple(out.shape), out.dtype), ((2, 1, 8, 128), torch.bfloat16))
        for argument, bad in [("k_cache", args[:1] + (bf16,) + args[2:]),
                              ("descale_v", args[:-2] + (torch.empty(2, device="meta"), None)),
                              ("descale_q", (q8,) + args[1:]),
                              ("q", args[:-1] + (scale,))]:
            with self.subTest(argument=argument):
                with self.assertRaises(flash_mla_ts.ArgumentError) as caught:
                    ops.gqa_decode_e4m3(*bad)
                self.assertEqual(caught.exception.argument, argument)

    def test_compiled_call_traces_as_one_graph(self):
        import torch._dynamo

        torch._dynamo.reset()
        self.addCleanup(torch._dynamo.reset)
        seen = []
        backend = _recording_backend(seen)

        def step(q, k_cache, v_cache, block_table, cache_seqlens, metadata, num_splits,
                 descale_k, descale_v):
            return flash_mla_ts.gqa_decode_with_kvcache(
                q, k_cache, v_cache, block_table, cache_seqlens, metadata, num_splits,
                causal=True, descale_k=descale_k, descale_v=descale_v)

        out, lse = torch.compile(step, fullgraph=True, backend=backend)(**_meta_problem())
        self.assertEqual(tuple(out.shape), (2, 1, 8, 128))
        self.assertEqual(tuple(lse.shape), (2, 8, 1))
        self.assertEqual(len(seen), 1)
        self.assertIn(_ops.gqa_decode_e4m3, seen[0])


@unittest.skipIf(COMPILE_PROBLEM or FP8_PROBLEM, COMPILE_PROBLEM or FP8_PROBLEM)
class E4m3DecodeCompileTest(unittest.TestCase):
    """torch.compile(fullgraph=True) of a step that decodes over e4m3 caches, into new and into
    preallocated outputs: the same bits as the eager call."""

    def test_same_bits_as_eager(self):
        import torch._dynamo

        torch._dynamo.reset()
        p = _problem(9800, b=3, s_k=400, varlen=True, s_q=2, h_q=16, h_kv=2, d=128, page_size=16)
        k8, descale_k, _ = e4m3_of(p.k_cache)
        v8, descale_v, _ = e4m3_of(p.v_cache)

        def step(q, k_cache, v_cache, block_table, cache_seqlens, out, lse):
            meta, splits = flash_mla_ts.get_mla_metadata(cache_seqlens, 16, 2)
            new = flash_mla_ts.gqa_decode_with_kvcache(
                q, k_cache, v_cache, block_table, cache_seqlens, meta, splits, causal=True,
                descale_k=descale_k, descale_v=descale_v)
            flash_mla_ts.gqa_decode_with_kvcache(
                q, k_cache, v_cache, block_table, cache_seqlens, meta, splits, causal=True,
                descale_k=descale_k, descale_v=descale_v, out=out, lse=lse)
            return new

        _assert_compiled_is_eager(self, step, (p.q, k8, v8, p.block_table, p.cache_seqlens),
                                  (3, 2, 16, 128))


def _meta_mla(fmt):
    """An MLA decode's tensors on the meta device (h_q 16, page 64) over an FP8 cache of `fmt`."""
    meta = dict(device="meta")
    width = 656 if fmt == 1 else 576
    return dict(q=torch.empty(2, 1, 16, 576, dtype=torch.bfloat16, **meta),
                k_cache=torch.empty(4, 64, 1, width, dtype=torch.float8_e4m3fn, **meta),
                block_table=torch.empty(2, 3, dtype=torch.int32, **meta),
                cache_seqlens=torch.empty(2, dtype=torch.int32, **meta),
                metadata=torch.empty(4, 8, dtype=torch.int32, **meta),
                num_splits=torch.empty(3, dtype=torch.int32, **meta),
                descale_k=torch.empty(1, **meta) if fmt == 2 else None)


@unittest.skipIf(TRACE_PROBLEM, TRACE_PROBLEM)
class MlaFp8TraceTest(unittest.TestCase):
    """What torch.compile sees of the FP8 MLA call: its operators' fake implementations and a
    whole-graph trace, on meta tensors, in both formats."""

    def setUp(self):
        mode = torch.inference_mode()
        mode.__enter__()
        self.addCleanup(mode.__exit__, None, None, None)

    def test_operators_on_meta_tensors(self):
        ops = torch.ops.flash_mla_ts
        for fmt in (1, 2):
            with self.subTest(format=fmt):
                t = _meta_mla(fmt)
                args = (t["q"], t["k_cache"], t["block_table"], t["cache_seqlens"], 512,
                        t["metadata"], t["num_splits"], 0.1, True, fmt, t["descale_k"], None)
                out, lse = ops.mla_decode_fp8(*args)
                self.assertEqual((tuple(out.shape), out.dtype), ((2, 1, 16, 512), torch.bfloat16))
                self.assertEqual((tuple(lse.shape), lse.dtype), ((2, 16, 1), torch.float32))
                ops.mla_decode_fp8_out(*args, torch.empty(2, 1, 16, 512, dtype=torch.bfloat16,
                                                          device="meta"),
                                       torch.empty(2, 16, 1, device="meta"))
                wrong = torch.empty(4, 64, 1, 576, dtype=torch.bfloat16, device="meta")
                with self.assertRaises(flash_mla_ts.ArgumentError) as caught:
                    ops.mla_decode_fp8(*args[:1], wrong, *args[2:])
                self.assertEqual(caught.exception.argument, "k_cache")
        t = _meta_mla(2)
        with self.assertRaises(flash_mla_ts.ArgumentError) as caught:  # fp8_e4m3 needs descale_k
            ops.mla_decode_fp8(t["q"], t["k_cache"], t["block_table"], t["cache_seqlens"], 512,
                               t["metadata"], t["num_splits"], 0.1, True, 2, None, None)
        self.assertEqual(caught.exception.argument, "descale_k")
        # float8_e4m3fn queries with descale_q: bf16 outputs; without it, named
        q8 = torch.empty(2, 1, 16, 576, dtype=torch.float8_e4m3fn, device="meta")
        rest = (t["k_cache"], t["block_table"], t["cache_seqlens"], 512, t["metadata"],
                t["num_splits"], 0.1, True, 2, t["descale_k"])
        out, _ = ops.mla_decode_fp8(q8, *rest, torch.empty(1, device="meta"))
        self.assertEqual((tuple(out.shape), out.dtype), ((2, 1, 16, 512), torch.bfloat16))
        with self.assertRaises(flash_mla_ts.ArgumentError) as caught:
            ops.mla_decode_fp8(q8, *rest, None)
        self.assertEqual(caught.exception.argument, "descale_q")

    def _compile_whole(self, fmt, step_for):
        """step_for(the call's FP8 keywords) compiled whole on the meta problem of format `fmt`:
        its (out, lse), checked for shape, and the one graph's called functions."""
        import torch._dynamo

        torch._dynamo.reset()
        self.addCleanup(torch._dynamo.reset)
        seen = []
        options = dict(is_fp8_kvcache=True) if fmt == 1 else {}
        compiled = torch.compile(step_for(options), fullgraph=True,
                                 backend=_recording_backend(seen))
        out, lse = compiled(**_meta_mla(fmt))
        self.assertEqual((tuple(out.shape), tuple(lse.shape)), ((2, 1, 16, 512), (2, 16, 1)))
        self.assertEqual(len(seen), 1)
        return seen[0]

    def test_compiled_call_traces_as_one_graph(self):
        def step_for(options):
            def step(q, k_cache, block_table, cache_seqlens, metadata, num_splits, descale_k):
                return flash_mla_ts.flash_mla_with_kvcache(
                    q, k_cache, block_table, cache_seqlens, 512, metadata, num_splits,
                    causal=True, descale_k=descale_k, **options)
            return step

        for fmt in (1, 2):
            with self.subTest(format=fmt):
                self.assertIn(_ops.mla_decode_fp8, self._compile_whole(fmt, step_for))

    def test_schedule_object_built_and_reused_in_one_graph(self):
        def step_for(options):
            def step(q, k_cache, block_table, cache_seqlens, metadata, num_splits, descale_k):
                sched, _ = flash_mla_ts.get_mla_metadata(num_sms=132)
                first, again = (flash_mla_ts.flash_mla_with_kvcache(
                    q, k_cache, block_table, cache_seqlens, 512, sched, None, causal=True,
                    descale_k=descale_k, **options) for _ in range(2))
                return first[0], again[1]
            return step

        for fmt in (1, 2):
            with self.subTest(format=fmt):
                calls = self._compile_whole(fmt, step_for)
                self.assertEqual(calls.count(_ops.mla_decode_fp8), 2)
                self.assertIn(_ops.get_mla_metadata, calls)


@unittest.skipIf(COMPILE_PROBLEM or FP8_PROBLEM, COMPILE_PROBLEM or FP8_PROBLEM)
class MlaFp8CompileTest(unittest.TestCase):
    """torch.compile(fullgraph=True) of a step that decodes over an fp8_e4m3 MLA cache, into new
    and into preallocated outputs: the same bits as the eager call."""

    def test_same_bits_as_eager(self):
        import torch._dynamo

        torch._dynamo.reset()
        p = _problem(9850, b=3, s_k=400, varlen=True, s_q=2, h_q=16, page_size=16)
        cache, descale, _ = e4m3_of(p.k_cache)

        def step(q, k_cache, block_table, cache_seqlens, out, lse):
            meta, splits = flash_mla_ts.get_mla_metadata(cache_seqlens, 32, 1)
            new = flash_mla_ts.flash_mla_with_kvcache(
                q, k_cache, block_table, cache_seqlens, 512, meta, splits, causal=True,
                descale_k=descale)
            flash_mla_ts.flash_mla_with_kvcache(
                q, k_cache, block_table, cache_seqlens, 512, meta, splits, causal=True,
                descale_k=descale, out=out, lse=lse)
            return new

        _assert_compiled_is_eager(self, step, (p.q, cache, p.block_table, p.cache_seqlens),
                                  (3, 2, 16, 512))


if __name__ == "__main__":
    unittest.main()
