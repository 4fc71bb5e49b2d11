"""Tests of the flash_mla_ts binding: plain unittest.

    python -m unittest discover -s python/tests -v

Without a GPU only the library, schedule-port and argument-check tests run; the GPU tests skip with
the reason. On a GPU every decode is compared with a float64 torch reference (torch_reference.py) on
random paged problems (paged_problems.py): pages permuted, NaN in unused cache rows, garbage
block-table entries past the used pages; outputs are preset to NaN so that an unwritten element
shows.
"""

import ctypes
import math
import os
import random
import unittest
from unittest import mock

import flash_mla_ts
from flash_mla_ts import _library

import schedule_port

from gpu_probe import GPU_PROBLEM, LIBRARY_PROBLEM, TORCH_PROBLEM, torch

# bf16 inputs, float32 accumulation, probabilities rounded to 16 bits for the tensor cores: the
# output's relative error against float64 is a few 1e-3.
MAX_OUT_RELATIVE_ERROR = 1e-2
MAX_LSE_ABS_ERROR = 1e-3


def _tensor_classes():
    """Imports that need torch, done once torch is known to be there."""
    import paged_problems
    import torch_reference

    return paged_problems, torch_reference


class LibraryTest(unittest.TestCase):
    """The ctypes layer: lookup, loading, status codes. Runs without a GPU."""

    def test_missing_library_says_where_it_looked_and_how_to_build(self):
        with mock.patch.dict(os.environ, {"FLASH_MLA_LIBRARY": "/nonexistent/libflashmla.so"}):
            with self.assertRaises(flash_mla_ts.LibraryNotFoundError) as ctx:
                flash_mla_ts.find_library()
        message = str(ctx.exception)
        self.assertIn("/nonexistent/libflashmla.so", message)
        self.assertIn("npm run build:native", message)

    def test_lookup_order_without_the_environment_variable(self):
        with mock.patch.dict(os.environ, {}, clear=False):
            os.environ.pop("FLASH_MLA_LIBRARY", None)
            places = [where for where, _ in _library.candidate_paths()]
        self.assertEqual(places, ["the installed package", "the source tree"])

    @unittest.skipIf(LIBRARY_PROBLEM, LIBRARY_PROBLEM)
    def test_version(self):
        self.assertRegex(flash_mla_ts.library_version(), r"^\d+\.\d+\.\d+$")

    @unittest.skipIf(LIBRARY_PROBLEM, LIBRARY_PROBLEM)
    def test_a_failing_status_raises_with_the_library_message(self):
        # fmla_malloc checks its output pointer before it looks for a device.
        with self.assertRaises(flash_mla_ts.InvalidArgumentError) as ctx:
            _library.call("fmla_malloc", None, 16)
        err = ctx.exception
        self.assertIsInstance(err, ValueError)
        self.assertEqual(err.status, 1)
        self.assertEqual(err.status_name, "FMLA_ERROR_INVALID_ARGUMENT")
        self.assertIn("ptr: expected a pointer, got NULL", str(err))
        self.assertIn("fmla_malloc", str(err))

    @unittest.skipIf(LIBRARY_PROBLEM, LIBRARY_PROBLEM)
    def test_no_device_is_a_clean_error(self):
        count = flash_mla_ts.device_count()
        if count > 0:
            _library.call("fmla_device_synchronize")  # with a device: no error
            return
        with self.assertRaises(flash_mla_ts.NoDeviceError) as ctx:
            _library.call("fmla_device_synchronize")
        self.assertIn("FMLA_ERROR_NO_DEVICE", str(ctx.exception))
        self.assertIn("CUDA", ctx.exception.detail)

    @unittest.skipIf(LIBRARY_PROBLEM, LIBRARY_PROBLEM)
    def test_num_sm_parts_matches_the_schedule_document(self):
        for num_sms in (1, 7, 78, 114, 132):
            for q_tokens in (1, 16, 64, 65, 128, 256, 512):
                for h_kv in (1, 2, 8):
                    self.assertEqual(
                        flash_mla_ts.mla_num_sm_parts(num_sms, q_tokens, h_kv),
                        schedule_port.num_sm_parts(num_sms, q_tokens, h_kv),
                        (num_sms, q_tokens, h_kv),
                    )
        self.assertEqual(flash_mla_ts.mla_num_sm_parts(132, 128, 1), 66)


class SchedulePortTest(unittest.TestCase):
    """The Python port of docs/schedule.md that the device schedule is checked against."""

    def test_the_documented_examples(self):
        examples = [
            # A cut: sequence 2 fits in no part.
            ([100, 0, 1000], 4,
             [[0, 0, 1, 0, 0, 0, 0, 0], [2, 0, 2, 576, 2, 0, 0, 0],
              [2, 576, 2, 1000, 3, 0, 0, 0], [3, 0, 2, 1000, 4, 0, 0, 0]],
             [0, 1, 2, 4]),
            # Whole sequences: as many as parts, each within one overhead of its share.
            ([100, 500, 100], 3,
             [[0, 0, 0, 100, 0, 0, 0, 0], [1, 0, 1, 500, 1, 0, 0, 0], [2, 0, 2, 100, 2, 0, 0, 0]],
             [0, 1, 2, 3]),
        ]
        for lens, parts, want_metadata, want_splits in examples:
            self.assertEqual(schedule_port.schedule(lens, parts), (want_metadata, want_splits))

    def test_every_key_is_covered_once_in_order(self):
        rng = random.Random(7)
        for _ in range(300):
            b = rng.randint(1, 30)
            lens = [0 if rng.random() < 0.15 else rng.randint(0, rng.choice([64, 1000, 70000]))
                    for _ in range(b)]
            parts = rng.choice([1, 2, 7, 66, 132])
            metadata, num_splits = schedule_port.schedule(lens, parts)
            covered = [[] for _ in range(b)]
            for begin_batch, begin_token, end_batch, end_token, begin_split, *_ in metadata:
                for k in range(begin_batch, end_batch + 1):
                    start = begin_token if k == begin_batch else 0
                    end = end_token if k == end_batch else lens[k]
                    covered[k].append((start, end, begin_split + k - begin_batch))
            for i, chunks in enumerate(covered):
                what = f"lens {lens}, parts {parts}, sequence {i}"
                self.assertEqual(chunks[0][0], 0, what)
                self.assertEqual(chunks[-1][1], lens[i], what)
                for (_, end, _), (start, _, _) in zip(chunks, chunks[1:]):
                    self.assertEqual(end, start, what)
                self.assertEqual([c[2] for c in chunks],
                                 list(range(num_splits[i], num_splits[i + 1])), what)
            self.assertLessEqual(num_splits[b], b + parts)


@unittest.skipIf(TORCH_PROBLEM, TORCH_PROBLEM)
class ArgumentCheckTest(unittest.TestCase):
    """Bad arguments are TypeError / ValueError naming the argument, before anything is called.
    The tensors live on the CPU, so these run without a GPU (the device is checked last)."""

    def setUp(self):
        bf16, i32 = torch.bfloat16, torch.int32
        self.args = dict(
            q=torch.zeros(2, 1, 16, 576, dtype=bf16),
            k_cache=torch.zeros(4, 64, 1, 576, dtype=bf16),
            block_table=torch.zeros(2, 3, dtype=i32),
            cache_seqlens=torch.zeros(2, dtype=i32),
            head_dim_v=512,
            tile_scheduler_metadata=torch.zeros(4, 8, dtype=i32),
            num_splits=torch.zeros(3, dtype=i32),
        )

    def call(self, **changes):
        return flash_mla_ts.flash_mla_with_kvcache(**{**self.args, **changes})

    def assertRaisesNaming(self, error, argument, expected, **changes):
        with self.assertRaises(error) as ctx:
            self.call(**changes)
        message = str(ctx.exception)
        self.assertTrue(message.startswith(f"{argument}: expected"), message)
        self.assertIn(expected, message)

    def test_wrong_dtypes_are_type_errors(self):
        self.assertRaisesNaming(TypeError, "q",
                                "torch.bfloat16 or torch.float16, got torch.float32",
                                q=self.args["q"].float())
        self.assertRaisesNaming(TypeError, "k_cache", "got torch.float16",
                                k_cache=self.args["k_cache"].half())
        self.assertRaisesNaming(TypeError, "block_table", "torch.int32, got torch.int64",
                                block_table=self.args["block_table"].long())
        self.assertRaisesNaming(TypeError, "cache_seqlens", "torch.int32",
                                cache_seqlens=self.args["cache_seqlens"].long())
        self.assertRaisesNaming(TypeError, "out", "torch.bfloat16, got torch.float32",
                                out=torch.zeros(2, 1, 16, 512))
        self.assertRaisesNaming(TypeError, "lse", "torch.float32, got torch.bfloat16",
                                lse=torch.zeros(2, 16, 1, dtype=torch.bfloat16))
        self.assertRaisesNaming(TypeError, "k_cache", "a torch.Tensor, got a list",
                                k_cache=[1, 2])
        self.assertRaisesNaming(TypeError, "softmax_scale", "or None, got '0.1'",
                                softmax_scale="0.1")
        self.assertRaisesNaming(TypeError, "head_dim_v", "got 512.0", head_dim_v=512.0)

    def test_wrong_ranks_and_layouts_are_value_errors(self):
        self.assertRaisesNaming(ValueError, "q",
                                "4 dims [b, s_q, h_q, d_qk], got shape (2, 16, 576)",
                                q=self.args["q"][:, 0])
        strided_q = torch.zeros(2, 1, 16, 1152, dtype=torch.bfloat16)[..., ::2]
        self.assertRaisesNaming(ValueError, "q", "contiguous last dimension", q=strided_q)
        self.assertRaisesNaming(ValueError, "tile_scheduler_metadata", "contiguous tensor",
                                tile_scheduler_metadata=torch.zeros(8, 4, dtype=torch.int32).t())
        self.assertRaisesNaming(ValueError, "head_dim_v", "an int in [1, 576]", head_dim_v=0)

    def test_cpu_tensors_are_refused(self):
        self.assertRaisesNaming(ValueError, "q", "a CUDA tensor, got a tensor on cpu")
        with self.assertRaises(ValueError) as ctx:
            flash_mla_ts.write_kv(torch.zeros(2, 4, 1, 8), torch.zeros(1, 1, 8),
                                  torch.zeros(1, dtype=torch.int32))
        self.assertIn("cache: expected a CUDA tensor", str(ctx.exception))

    def test_gqa_and_write_kv_and_metadata_arguments(self):
        a = self.args
        with self.assertRaises(TypeError) as ctx:
            flash_mla_ts.gqa_decode_with_kvcache(a["q"], a["k_cache"], a["k_cache"].half(),
                                                 a["block_table"], a["cache_seqlens"],
                                                 a["tile_scheduler_metadata"], a["num_splits"])
        self.assertIn("v_cache: expected dtype torch.bfloat16, got torch.float16",
                      str(ctx.exception))
        with self.assertRaises(TypeError) as ctx:
            flash_mla_ts.write_kv(torch.zeros(2, 4, 1, 8, dtype=torch.bfloat16),
                                  torch.zeros(1, 1, 8, dtype=torch.float16),
                                  torch.zeros(1, dtype=torch.int32))
        self.assertIn("rows: expected dtype torch.bfloat16, got torch.float16", str(ctx.exception))
        with self.assertRaises(ValueError) as ctx:
            flash_mla_ts.get_mla_metadata(a["cache_seqlens"], 16, 0)
        self.assertIn("num_heads_k: expected an int in [1, 2147483647] (an int32), got 0",
                      str(ctx.exception))
        with self.assertRaises(TypeError) as ctx:
            flash_mla_ts.get_mla_metadata(a["cache_seqlens"], 16.0, 1)
        self.assertIn("num_q_tokens_per_head_k: expected an int", str(ctx.exception))
        self.assertIn("got 16.0", str(ctx.exception))


def _case_name(case):
    return ", ".join(f"{k}={v}" for k, v in case.items())


# The cases of the project's GPU suite (test/gpu/*.test.ts).
MLA_CASES = [
    dict(b=4, s_k=300, varlen=True, s_q=1, h_q=16, page_size=64, causal=False),
    dict(b=3, s_k=100, varlen=True, s_q=2, h_q=16, page_size=1, causal=True),
    dict(b=5, s_k=500, varlen=True, s_q=3, h_q=32, page_size=16, causal=True),
    dict(b=3, s_k=700, varlen=True, s_q=4, h_q=64, page_size=64, causal=True),
    dict(b=4, s_k=1000, varlen=True, s_q=1, h_q=128, page_size=64, causal=False),
    dict(b=2, s_k=300, varlen=True, s_q=4, h_q=128, page_size=64, causal=True),
    dict(b=2, s_k=300, varlen=True, s_q=2, h_q=128, page_size=16, causal=False, num_sms=7),
    dict(seqlens=[0, 130, 0, 1, 64, 2], s_q=4, h_q=16, page_size=64, causal=True),
    dict(seqlens=[0, 0], s_q=1, h_q=32, page_size=16, causal=False),
    dict(b=3, s_k=400, varlen=True, s_q=2, h_q=32, page_size=64, causal=True, dtype="float16"),
    dict(b=3, s_k=400, varlen=True, s_q=1, h_q=32, h_kv=2, page_size=64, causal=False),
    dict(b=1, s_k=32768, s_q=1, h_q=128, page_size=64, causal=False),
    dict(b=1, s_k=32768, s_q=2, h_q=16, page_size=64, causal=True),
    dict(b=128, s_k=1024, varlen=True, s_q=1, h_q=16, page_size=64, causal=False),
    dict(b=128, s_k=512, varlen=True, s_q=2, h_q=128, page_size=64, causal=True),
]

GQA_CASES = [
    dict(b=4, s_k=300, varlen=True, s_q=1, h_q=32, h_kv=8, d=128, page_size=16, causal=False),
    dict(b=3, s_k=200, varlen=True, s_q=2, h_q=8, h_kv=8, d=64, page_size=1, causal=True),
    dict(b=3, s_k=500, varlen=True, s_q=3, h_q=16, h_kv=1, d=256, page_size=64, causal=True),
    dict(b=2, s_k=300, varlen=True, s_q=4, h_q=32, h_kv=4, d=128, page_size=7, causal=True),
    dict(b=2, s_k=100, varlen=True, s_q=1, h_q=16, h_kv=2, d=64, page_size=16, causal=False,
         dtype="float16"),
    dict(seqlens=[0, 50, 0, 3], s_q=4, h_q=8, h_kv=2, d=128, page_size=16, causal=True),
    dict(b=1, s_k=32768, s_q=1, h_q=32, h_kv=8, d=128, page_size=16, causal=False),
    dict(b=128, s_k=1024, varlen=True, s_q=1, h_q=32, h_kv=8, d=128, page_size=16, causal=False),
]


@unittest.skipIf(GPU_PROBLEM, GPU_PROBLEM)
class GpuDecodeTest(unittest.TestCase):
    """MLA and GQA decode against the float64 reference."""

    device = "cuda"

    def make(self, seed, case):
        paged_problems, _ = _tensor_classes()
        options = {k: v for k, v in case.items() if k not in ("causal", "num_sms", "dtype")}
        dtype = getattr(torch, case.get("dtype", "bfloat16"))
        return paged_problems.make_problem(seed, device=self.device, dtype=dtype, **options)

    def decode(self, p, causal, num_sms=None, softmax_scale=None, **poisoned_outputs):
        b, s_q, h_q, _ = p.q.shape
        h_kv = p.k_cache.shape[2]
        metadata, num_splits = flash_mla_ts.get_mla_metadata(
            p.cache_seqlens, s_q * h_q // h_kv, h_kv, num_sms=num_sms)
        # NaN outputs: every element the kernels forget to write stays NaN.
        out = torch.full((b, s_q, h_q, p.head_dim_v), math.nan, dtype=p.q.dtype, device=self.device)
        lse = torch.full((b, h_q, s_q), math.nan, dtype=torch.float32, device=self.device)
        if p.v_cache is None:
            result = flash_mla_ts.flash_mla_with_kvcache(
                p.q, p.k_cache, p.block_table, p.cache_seqlens, p.head_dim_v, metadata, num_splits,
                softmax_scale, causal, out=out, lse=lse)
        else:
            result = flash_mla_ts.gqa_decode_with_kvcache(
                p.q, p.k_cache, p.v_cache, p.block_table, p.cache_seqlens, metadata, num_splits,
                softmax_scale, causal, out=out, lse=lse)
        self.assertIs(result[0], out)
        self.assertIs(result[1], lse)
        return out, lse, num_splits

    def check_against_reference(self, p, out, lse, causal, softmax_scale=None):
        _, torch_reference = _tensor_classes()
        scale = softmax_scale if softmax_scale is not None else p.q.shape[-1] ** -0.5
        ref_out, ref_lse = torch_reference.reference_decode(
            p.q, p.k_cache, p.v_cache, p.block_table, p.seqlens, p.head_dim_v, scale, causal)
        self.assertEqual(int(torch.isnan(out).sum()) + int(torch.isnan(lse).sum()), 0,
                         "every output element written")
        ref_norm = float(ref_out.norm())
        error = float((out.double() - ref_out).norm()) / (ref_norm if ref_norm > 0 else 1.0)
        self.assertLess(error, MAX_OUT_RELATIVE_ERROR, "out relative error")
        finite = torch.isfinite(ref_lse)
        if bool(finite.any()):
            lse_error = float((lse.double()[finite] - ref_lse[finite]).abs().max())
            self.assertLess(lse_error, MAX_LSE_ABS_ERROR, "lse error")
        self.assertTrue(bool((lse[~finite] == math.inf).all()), "no key attended: lse = +inf")
        self.assertEqual(float(out.double()[(ref_out == 0).all(-1)].abs().sum()), 0.0,
                         "no key attended: out = 0")
        return int((~finite).sum())

    def run_cases(self, cases, seed_base):
        for k, case in enumerate(cases):
            with self.subTest(_case_name(case)):
                p = self.make(seed_base + k, case)
                out, lse, _ = self.decode(p, case["causal"], case.get("num_sms"))
                empty_rows = self.check_against_reference(p, out, lse, case["causal"])
                if 0 in case.get("seqlens", []):
                    self.assertGreater(empty_rows, 0, "empty sequences give lse = +inf")

    def test_mla_decode(self):
        self.run_cases(MLA_CASES, 1000)

    def test_gqa_decode(self):
        self.run_cases(GQA_CASES, 2000)

    def test_a_long_single_sequence_is_split_across_the_gpu(self):
        p = self.make(5, dict(b=1, s_k=32768, s_q=1, h_q=16, page_size=64))
        out, lse, num_splits = self.decode(p, causal=False)
        self.assertGreater(int(num_splits[-1]), 16)
        self.check_against_reference(p, out, lse, causal=False)

    def test_softmax_scale_and_allocated_outputs(self):
        p = self.make(11, dict(b=3, s_k=200, varlen=True, s_q=2, h_q=16, page_size=16))
        metadata, num_splits = flash_mla_ts.get_mla_metadata(p.cache_seqlens, 32, 1)
        out, lse = flash_mla_ts.flash_mla_with_kvcache(
            p.q, p.k_cache, p.block_table, p.cache_seqlens, 512, metadata, num_splits,
            softmax_scale=0.5, causal=True)
        self.assertEqual(tuple(out.shape), (3, 2, 16, 512))
        self.assertEqual(out.dtype, torch.bfloat16)
        self.assertEqual(tuple(lse.shape), (3, 16, 2))
        self.assertEqual(lse.dtype, torch.float32)
        self.check_against_reference(p, out, lse, causal=True, softmax_scale=0.5)

    def test_runs_on_the_current_torch_stream(self):
        p = self.make(12, dict(b=4, s_k=2000, varlen=True, s_q=1, h_q=64, page_size=64))
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            out, lse, _ = self.decode(p, causal=False)
        torch.cuda.current_stream().wait_stream(side)
        self.check_against_reference(p, out, lse, causal=False)

    def test_captured_in_a_cuda_graph_and_replayed_with_new_inputs(self):
        p = self.make(13, dict(b=3, s_k=600, varlen=True, s_q=1, h_q=32, page_size=64))
        metadata, num_splits = flash_mla_ts.get_mla_metadata(p.cache_seqlens, 32, 1)
        out = torch.empty(3, 1, 32, 512, dtype=torch.bfloat16, device=self.device)
        lse = torch.empty(3, 32, 1, dtype=torch.float32, device=self.device)

        def step():
            flash_mla_ts.flash_mla_with_kvcache(p.q, p.k_cache, p.block_table, p.cache_seqlens,
                                                512, metadata, num_splits, out=out, lse=lse)

        warmup = torch.cuda.Stream()
        warmup.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(warmup):
            step()
        torch.cuda.current_stream().wait_stream(warmup)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            step()
        new_q = self.make(14, dict(b=3, s_k=600, varlen=True, s_q=1, h_q=32, page_size=64)).q
        p.q.copy_(new_q)
        out.fill_(math.nan)
        lse.fill_(math.nan)
        graph.replay()
        torch.cuda.synchronize()
        self.check_against_reference(p, out, lse, causal=False)

    def test_library_errors_carry_its_message(self):
        p = self.make(15, dict(b=2, s_k=100, s_q=1, h_q=16, page_size=64))
        metadata, num_splits = flash_mla_ts.get_mla_metadata(p.cache_seqlens, 16, 1)
        with self.assertRaises(flash_mla_ts.UnsupportedError) as ctx:
            flash_mla_ts.flash_mla_with_kvcache(p.q, p.k_cache, p.block_table, p.cache_seqlens, 256,
                                                metadata, num_splits)
        self.assertIn("head_dim_v = 256", str(ctx.exception))
        with self.assertRaises(flash_mla_ts.InvalidArgumentError) as ctx:
            flash_mla_ts.flash_mla_with_kvcache(p.q, p.k_cache, p.block_table[:1], p.cache_seqlens,
                                                512, metadata, num_splits)
        self.assertIsInstance(ctx.exception, ValueError)
        self.assertIn("block_table: expected shape[0] = 2", str(ctx.exception))


@unittest.skipIf(GPU_PROBLEM, GPU_PROBLEM)
class GpuScheduleTest(unittest.TestCase):
    def test_device_schedule_equals_the_port_on_random_lengths(self):
        rng = random.Random(20261125)
        for k in range(200):
            b = rng.randint(1, 40 if k < 160 else 600)
            max_len = rng.choice([1, 64, 1000, 70000])
            lens = [0 if rng.random() < 0.15 else rng.randint(0, max_len) for _ in range(b)]
            h_kv = rng.choice([1, 1, 2, 8])
            q_tokens = rng.choice([16, 32, 64, 128, 256, 512])
            num_sms = rng.choice([132, 132, 1, 7, 114])
            seqlens = torch.tensor(lens, dtype=torch.int32, device="cuda")
            metadata, num_splits = flash_mla_ts.get_mla_metadata(seqlens, q_tokens, h_kv,
                                                                 num_sms=num_sms)
            parts = schedule_port.num_sm_parts(num_sms, q_tokens, h_kv)
            want_metadata, want_splits = schedule_port.schedule(lens, parts)
            what = f"lens {lens}, q_tokens {q_tokens}, h_kv {h_kv}, num_sms {num_sms}"
            self.assertEqual(metadata.tolist(), want_metadata, what)
            self.assertEqual(num_splits.tolist(), want_splits, what)

    def test_the_default_is_the_device_sm_count(self):
        lens = [5000, 17, 0, 90000]
        metadata, num_splits = flash_mla_ts.get_mla_metadata(
            torch.tensor(lens, dtype=torch.int32, device="cuda"), 128, 1)
        sms = torch.cuda.get_device_properties(0).multi_processor_count
        want_metadata, want_splits = schedule_port.schedule(
            lens, schedule_port.num_sm_parts(sms, 128, 1))
        self.assertEqual(metadata.tolist(), want_metadata)
        self.assertEqual(num_splits.tolist(), want_splits)


WRITE_KV_CASES = [
    dict(num_pages=40, page_size=64, h_kv=1, d=576, n=300, dtype="bfloat16"),
    dict(num_pages=300, page_size=1, h_kv=8, d=128, n=257, dtype="float16"),
    dict(num_pages=50, page_size=16, h_kv=2, d=64, n=33, dtype="bfloat16"),
    dict(num_pages=10, page_size=16, h_kv=1, d=256, n=1, dtype="bfloat16"),
    dict(num_pages=12, page_size=16, h_kv=2, d=64, n=40, dtype="float32"),
]


@unittest.skipIf(GPU_PROBLEM, GPU_PROBLEM)
class GpuWriteKvTest(unittest.TestCase):
    def test_every_mapped_slot_gets_its_row_and_nothing_else_changes(self):
        paged_problems, _ = _tensor_classes()
        for k, c in enumerate(WRITE_KV_CASES):
            with self.subTest(_case_name(c)):
                gen = torch.Generator(device="cuda").manual_seed(300 + k)
                dtype = getattr(torch, c["dtype"])
                shape = (c["num_pages"], c["page_size"], c["h_kv"], c["d"])
                cache = paged_problems.attention_values(shape, gen, "cuda", dtype)
                rows_shape = (c["n"], c["h_kv"], c["d"])
                rows = paged_problems.attention_values(rows_shape, gen, "cuda", dtype)
                slots = random.Random(k).sample(range(c["num_pages"] * c["page_size"]), c["n"])
                for s in range(4, c["n"], 5):
                    slots[s] = -1
                expected = cache.clone().view(-1, c["h_kv"], c["d"])
                for r, slot in enumerate(slots):
                    if slot >= 0:
                        expected[slot] = rows[r]
                before = cache.clone()
                flash_mla_ts.write_kv(cache, rows, torch.tensor(slots, dtype=torch.int32,
                                                                device="cuda"))
                torch.cuda.synchronize()
                self.assertTrue(torch.equal(cache.view(-1, c["h_kv"], c["d"]), expected))
                self.assertFalse(torch.equal(cache, before), "the case writes something")


if __name__ == "__main__":
    unittest.main()
