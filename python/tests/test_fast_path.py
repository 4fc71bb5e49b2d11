"""The decode call in C++ (flash_mla_ts._fast_decode, python/ext/fast_decode.cpp) beside the ctypes
path it stands in for: the same outputs bit for bit, the same typed errors, the workspace it keeps
(reused, grown, one per stream, never one captured in a CUDA graph), and its host time.

The module is built by `python3 python/native_build.py --extension` (or a pip install); where it is
missing these tests skip with fast_path_status()'s reason. Without a GPU they skip too.
"""

import sys
import unittest
from unittest import mock

import flash_mla_ts
from flash_mla_ts import _fast

from gpu_probe import GPU_PROBLEM, torch
from test_current_api import _check_against_reference, _problem, median_call_us

FAST_PROBLEM = GPU_PROBLEM
if FAST_PROBLEM is None:
    _status = flash_mla_ts.fast_path_status()
    FAST_PROBLEM = None if _status.startswith("C++") else f"the C++ call is not in use ({_status})"


def ctypes_path():
    """A context in which decode calls take the ctypes path alone."""
    return mock.patch.object(_fast, "decode", _fast._none)


def decode(p, causal, meta, splits, **kwargs):
    if p.v_cache is None:
        return flash_mla_ts.flash_mla_with_kvcache(p.q, p.k_cache, p.block_table, p.cache_seqlens,
                                                   p.head_dim_v, meta, splits, causal=causal,
                                                   **kwargs)
    return flash_mla_ts.gqa_decode_with_kvcache(p.q, p.k_cache, p.v_cache, p.block_table,
                                                p.cache_seqlens, meta, splits, causal=causal,
                                                **kwargs)


def schedule(p):
    b, s_q, h_q, _ = p.q.shape
    h_kv = p.k_cache.shape[2]
    return flash_mla_ts.get_mla_metadata(p.cache_seqlens, s_q * h_q // h_kv, h_kv)


CASES = [
    dict(b=4, s_k=300, varlen=True, s_q=1, h_q=16, page_size=64, causal=False),
    dict(b=3, s_k=900, varlen=True, s_q=2, h_q=128, page_size=1, causal=True),
    dict(b=5, s_k=200, varlen=True, s_q=3, h_q=32, h_kv=2, page_size=16, causal=True),
    dict(b=2, s_k=4000, s_q=1, h_q=16, page_size=64, causal=False, dtype=torch.float16),
    dict(b=6, s_k=700, varlen=True, s_q=1, h_q=32, h_kv=8, d=128, page_size=16, causal=False),
    dict(b=3, s_k=300, varlen=True, s_q=4, h_q=8, h_kv=8, d=64, page_size=1, causal=True),
    dict(b=2, s_k=1500, s_q=2, h_q=16, h_kv=1, d=256, page_size=64, causal=True),
]


@unittest.skipIf(FAST_PROBLEM, FAST_PROBLEM)
class FastPathTest(unittest.TestCase):
    def test_outputs_equal_the_ctypes_path_bit_for_bit(self):
        for k, case in enumerate(CASES):
            case = dict(case)
            causal = case.pop("causal")
            with self.subTest(**case, causal=causal):
                p = _problem(9000 + k, **case)
                meta, splits = schedule(p)
                out, lse = decode(p, causal, meta, splits)
                with ctypes_path():
                    ref_out, ref_lse = decode(p, causal, meta, splits)
                self.assertTrue(torch.equal(out, ref_out))
                self.assertTrue(torch.equal(lse, ref_lse))
                _check_against_reference(self, p, out, lse, causal)
                # Into outputs the caller owns, poisoned and strided (every element written).
                b, s_q, h_q, d_v = out.shape
                given_out = torch.full((b, s_q, h_q, d_v + 64), float("nan"), dtype=out.dtype,
                                       device=out.device)[..., :d_v]
                given_lse = torch.full((b, h_q, s_q + 3), float("nan"),
                                       device=out.device)[..., :s_q]
                result = decode(p, causal, meta, splits, out=given_out, lse=given_lse)
                self.assertIs(result[0], given_out)
                self.assertIs(result[1], given_lse)
                self.assertTrue(torch.equal(given_out, out))
                self.assertTrue(torch.equal(given_lse, lse))

    def test_both_conventions_and_strided_views(self):
        p = _problem(9100, b=3, s_k=500, varlen=True, s_q=1, h_q=64, page_size=64)
        sched, _ = flash_mla_ts.get_mla_metadata()
        first = decode(p, True, sched, None)  # builds the schedule (checked path)
        again = decode(p, True, sched, None)  # reuses it (C++ call)
        self.assertTrue(torch.equal(first[0], again[0]))
        # A block table of strided rows and a q that is a view of a wider tensor.
        wide = torch.zeros(p.block_table.shape[0], p.block_table.shape[1] + 5, dtype=torch.int32,
                           device=p.q.device)
        wide[:, 2:2 + p.block_table.shape[1]] = p.block_table
        q_wide = torch.zeros(*p.q.shape[:3], 640, dtype=p.q.dtype, device=p.q.device)
        q_wide[..., :576] = p.q
        strided = p.__class__(**{**p.__dict__, "q": q_wide[..., :576],
                                 "block_table": wide[:, 2:2 + p.block_table.shape[1]]})
        meta, splits = schedule(p)
        out, lse = decode(strided, True, meta, splits)
        with ctypes_path():
            ref_out, ref_lse = decode(strided, True, meta, splits)
        self.assertTrue(torch.equal(out, ref_out) and torch.equal(lse, ref_lse))
        self.assertTrue(torch.equal(out, first[0]))

    def test_wrong_arguments_give_the_errors_of_the_checked_path(self):
        p = _problem(9200, b=2, s_k=100, s_q=1, h_q=16, page_size=64)
        meta, splits = schedule(p)
        table64 = p.block_table.long()
        cases = {
            "block_table int64": lambda: decode(p.__class__(**{**p.__dict__,
                                                               "block_table": table64}),
                                                False, meta, splits),
            "head_dim_v 256 (refused by the library)": lambda: flash_mla_ts.flash_mla_with_kvcache(
                p.q, p.k_cache, p.block_table, p.cache_seqlens, 256, meta, splits),
            "head_dim_v 600": lambda: flash_mla_ts.flash_mla_with_kvcache(
                p.q, p.k_cache, p.block_table, p.cache_seqlens, 600, meta, splits),
            "softmax_scale inf": lambda: decode(p, False, meta, splits, softmax_scale=float("inf")),
            "q on the CPU": lambda: flash_mla_ts.flash_mla_with_kvcache(
                p.q.cpu(), p.k_cache, p.block_table, p.cache_seqlens, 512, meta, splits),
            "num_splits too short": lambda: decode(p, False, meta, splits[:2]),
            "lse of the wrong dtype": lambda: decode(p, False, meta, splits,
                                                     lse=torch.empty(2, 16, 1, device=p.q.device,
                                                                     dtype=torch.float16)),
        }
        for name, call in cases.items():
            with self.subTest(name):
                with self.assertRaises(Exception) as fast:
                    call()
                with ctypes_path(), self.assertRaises(Exception) as checked:
                    call()
                self.assertIsInstance(fast.exception,
                                      (flash_mla_ts.ArgumentError, flash_mla_ts.FlashMlaError))
                self.assertIs(type(fast.exception), type(checked.exception))
                self.assertEqual(str(fast.exception), str(checked.exception))

    def test_the_workspace_is_kept_reused_grown_and_released(self):
        flash_mla_ts.release_workspaces()
        small = _problem(9300, b=1, s_k=200, s_q=1, h_q=16, page_size=64)
        large = _problem(9301, b=64, s_k=3000, varlen=True, s_q=2, h_q=64, page_size=16)
        for p, causal in ((small, False), (large, True), (small, True), (large, False)):
            meta, splits = schedule(p)
            out, lse = decode(p, causal, meta, splits)
            _check_against_reference(self, p, out, lse, causal)
        parts = schedule(large)[0].shape[0]
        needed = flash_mla_ts._library.load().fmla_decode_workspace_bytes(64, 2, 64, 512, parts)
        self.assertGreaterEqual(flash_mla_ts.release_workspaces(), needed)
        self.assertEqual(flash_mla_ts.release_workspaces(), 0)
        # One per stream: calls on two streams at once, each with its own.
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        meta, splits = schedule(large)
        out_main, lse_main = decode(large, True, meta, splits)
        with torch.cuda.stream(side):
            out_side, lse_side = decode(large, True, meta, splits)
        torch.cuda.current_stream().wait_stream(side)
        self.assertTrue(torch.equal(out_main, out_side) and torch.equal(lse_main, lse_side))
        _check_against_reference(self, large, out_main, lse_main, True)
        self.assertGreaterEqual(flash_mla_ts.release_workspaces(), 2 * needed)

    def test_graph_capture_allocates_its_own_workspace(self):
        p = _problem(9400, b=8, s_k=2000, varlen=True, s_q=1, h_q=128, page_size=64)
        meta, splits = schedule(p)
        expected, expected_lse = decode(p, False, meta, splits)
        flash_mla_ts.release_workspaces()
        graph = torch.cuda.CUDAGraph()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            decode(p, False, meta, splits)  # warm-up outside capture, as torch asks
        torch.cuda.current_stream().wait_stream(stream)
        flash_mla_ts.release_workspaces()
        with torch.cuda.graph(graph):
            out, lse = decode(p, False, meta, splits)
        self.assertEqual(flash_mla_ts.release_workspaces(), 0, "nothing kept from the capture")
        torch.cuda.empty_cache()
        out.fill_(float("nan"))
        graph.replay()
        torch.cuda.synchronize()
        self.assertTrue(torch.equal(out, expected) and torch.equal(lse, expected_lse))

    def test_host_time_per_call(self):
        """Back-to-back calls on a problem small enough that the GPU keeps up (the anchor kit's
        overhead case): the C++ call beside the ctypes path; a generous regression bound (12-22 us
        measured on the H200 machine)."""
        p = _problem(9500, b=1, s_k=64, s_q=1, h_q=16, page_size=64)
        meta, splits = schedule(p)
        sched, _ = flash_mla_ts.get_mla_metadata()
        decode(p, False, sched, None)
        tensors_call = lambda: decode(p, False, meta, splits)  # noqa: E731
        object_call = lambda: decode(p, False, sched, None)  # noqa: E731

        fast = {"tensors": median_call_us(tensors_call), "object": median_call_us(object_call)}
        with ctypes_path():
            slow = {"tensors": median_call_us(tensors_call), "object": median_call_us(object_call)}
        print(f"\nflash_mla_with_kvcache host time per call: C++ {fast['tensors']:.1f} us "
              f"(schedule tensors), {fast['object']:.1f} us (schedule object); ctypes "
              f"{slow['tensors']:.1f} us, {slow['object']:.1f} us", file=sys.stderr)
        for convention, us in fast.items():
            self.assertLess(us, 35.0, convention)
            self.assertLess(us, slow[convention], convention)


if __name__ == "__main__":
    unittest.main()
