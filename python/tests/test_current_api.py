"""Tests of FlashMLA's current calling convention (the schedule object), beside the 2025 one, the
keywords of FlashMLA / vLLM / SGLang, the caller's current device, the torch operators and
torch.compile.

    python -m pytest python/tests -v        (or: python -m unittest discover -s python/tests -v)

Without torch only the signature, keyword and packing tests run; with torch but no GPU also the
argument checks, the fake implementations and the call plumbing against a stand-in library; the GPU
tests compare with the float64 reference (torch_reference.py) and with the 2025 convention, bit for
bit. Tests that need what is missing skip with the reason.
"""

import ctypes
import importlib.util
import inspect
import math
import statistics
import subprocess
import sys
import time
import unittest
from pathlib import Path
from unittest import mock

import flash_mla_ts
from flash_mla_ts import _fast, _library, _ops, attention
from flash_mla_ts import _torch_tensors as tensors
from flash_mla_ts.errors import ArgumentError, describe_value
from flash_mla_ts.schedule import ScheduleConfig

from gpu_probe import GPU_PROBLEM, LIBRARY_PROBLEM, TORCH_PROBLEM, torch
TWO_GPU_PROBLEM = GPU_PROBLEM or (
    None if torch.cuda.device_count() >= 2 else "needs 2 GPUs (this machine has 1)"
)
OPS_PROBLEM = TORCH_PROBLEM or (None if _ops.available else _ops.problem)
COMPILE_PROBLEM = GPU_PROBLEM or OPS_PROBLEM or (
    None if hasattr(torch, "compile") else f"torch {torch.__version__} has no torch.compile"
)
TRITON_PROBLEM = None if importlib.util.find_spec("triton") else "triton is not installed"

# FlashMLA's parameters of flash_mla_with_kvcache (2026), in its order, with their defaults.
FLASHMLA_DECODE_PARAMETERS = [
    ("q", inspect.Parameter.empty),
    ("k_cache", inspect.Parameter.empty),
    ("block_table", inspect.Parameter.empty),
    ("cache_seqlens", inspect.Parameter.empty),
    ("head_dim_v", inspect.Parameter.empty),
    ("tile_scheduler_metadata", inspect.Parameter.empty),
    ("num_splits", None),
    ("softmax_scale", None),
    ("causal", False),
    ("is_fp8_kvcache", False),
    ("indices", None),
    ("attn_sink", None),
    ("extra_k_cache", None),
    ("extra_indices_in_kvcache", None),
    ("topk_length", None),
    ("extra_topk_length", None),
]
# What vLLM and SGLang pass besides (their FP8 path), keyword-only here.
EXTRA_KEYWORDS = [("descale_q", None), ("descale_k", None), ("out", None), ("lse", None)]

UNSUPPORTED_VALUES = {
    "indices": "a tensor",
    "attn_sink": "a tensor",
    "extra_k_cache": "a tensor",
    "extra_indices_in_kvcache": "a tensor",
    "topk_length": "a tensor",
    "extra_topk_length": "a tensor",
}


def _stand_in(value):
    """A tensor where torch is there (the message then gives its shape), else a placeholder."""
    if value == "a tensor":
        return torch.zeros(2, 1, 4, dtype=torch.int32) if torch is not None else object()
    return value


class SignatureTest(unittest.TestCase):
    """The public signatures: FlashMLA's, plus the keywords vLLM and SGLang pass (no torch)."""

    def test_flash_mla_with_kvcache_takes_flashmla_parameters_in_order(self):
        params = inspect.signature(flash_mla_ts.flash_mla_with_kvcache).parameters
        positional = [(p.name, p.default) for p in params.values()
                      if p.kind == inspect.Parameter.POSITIONAL_OR_KEYWORD]
        self.assertEqual(positional, FLASHMLA_DECODE_PARAMETERS)
        keyword_only = [(p.name, p.default) for p in params.values()
                        if p.kind == inspect.Parameter.KEYWORD_ONLY]
        self.assertEqual(keyword_only, EXTRA_KEYWORDS)

    def test_get_mla_metadata_takes_both_conventions(self):
        params = inspect.signature(flash_mla_ts.get_mla_metadata).parameters
        self.assertEqual(
            [(p.name, p.default) for p in params.values()],
            [("cache_seqlens", None), ("num_q_tokens_per_head_k", None), ("num_heads_k", None),
             ("num_heads_q", None), ("is_fp8_kvcache", False), ("topk", None), ("num_sms", None)],
        )

    def test_no_arguments_give_an_empty_schedule_object(self):
        sched, num_splits = flash_mla_ts.get_mla_metadata()
        self.assertIsInstance(sched, flash_mla_ts.FlashMLASchedMeta)
        self.assertIsNone(num_splits)
        self.assertFalse(sched.have_initialized)
        self.assertIsNone(sched.config)
        self.assertIsNone(sched.tile_scheduler_metadata)
        self.assertIsNone(sched.num_splits)
        self.assertIsNot(flash_mla_ts.get_mla_metadata()[0], sched, "a new object each call")
        self.assertEqual(flash_mla_ts.get_mla_metadata(num_sms=7)[0].num_sms, 7)

    def test_schedule_object_has_flashmla_fields(self):
        self.assertIs(flash_mla_ts.FlashMLASchedMeta.Config, ScheduleConfig)
        self.assertEqual(
            ScheduleConfig._fields,
            ("b", "s_q", "h_q", "page_block_size", "h_k", "causal", "is_fp8_kvcache", "topk",
             "extra_page_block_size", "extra_topk"),
        )
        sched = flash_mla_ts.FlashMLASchedMeta()
        self.assertNotEqual(sched, flash_mla_ts.FlashMLASchedMeta(), "compared by identity")
        self.assertEqual(len({sched, sched}), 1, "hashable")

    def test_mismatch_error_is_what_flashmla_code_catches(self):
        self.assertTrue(issubclass(flash_mla_ts.ScheduleMismatchError, AssertionError))
        self.assertTrue(issubclass(flash_mla_ts.ScheduleMismatchError, ValueError))


class UnsupportedKeywordTest(unittest.TestCase):
    """Features this library lacks: NotImplementedError naming the argument, before anything else
    is looked at (so these run without torch or a GPU); defaults are accepted."""

    def test_each_decode_keyword_is_refused_by_name(self):
        schedules = [flash_mla_ts.FlashMLASchedMeta(), "tile_scheduler_metadata tensor"]
        for name, value in UNSUPPORTED_VALUES.items():
            for sched in schedules:
                with self.subTest(name=name, convention=type(sched).__name__):
                    with self.assertRaises(NotImplementedError) as ctx:
                        flash_mla_ts.flash_mla_with_kvcache(
                            None, None, None, None, 512, sched, None, **{name: _stand_in(value)})
                    message = str(ctx.exception)
                    self.assertTrue(message.startswith(name), message)
                    self.assertIn("flash_mla_ts does not implement", message)

    def test_a_tensor_is_described_by_its_shape(self):
        if torch is None:
            self.skipTest(TORCH_PROBLEM)
        with self.assertRaises(NotImplementedError) as ctx:
            flash_mla_ts.flash_mla_with_kvcache(None, None, None, None, 512,
                                                flash_mla_ts.FlashMLASchedMeta(),
                                                indices=torch.zeros(2, 1, 64, dtype=torch.int32))
        self.assertIn("indices (a tensor of shape (2, 1, 64)) asks for sparse attention",
                      str(ctx.exception))

    def test_defaults_given_explicitly_are_accepted(self):
        defaults = dict(is_fp8_kvcache=False, indices=None, attn_sink=None, extra_k_cache=None,
                        extra_indices_in_kvcache=None, topk_length=None, extra_topk_length=None,
                        descale_q=None, descale_k=None)
        # q = None: past the keywords, the call fails on q itself (or on torch being absent).
        with self.assertRaises((TypeError, ImportError)) as ctx:
            flash_mla_ts.flash_mla_with_kvcache(None, None, None, None, 512,
                                                flash_mla_ts.FlashMLASchedMeta(), None, **defaults)
        self.assertNotIsInstance(ctx.exception, NotImplementedError)

    def test_get_mla_metadata_refuses_sparse(self):
        with self.assertRaises(NotImplementedError) as ctx:
            flash_mla_ts.get_mla_metadata("cache_seqlens", 128, 1, topk=2048)
        self.assertTrue(str(ctx.exception).startswith("topk=2048 asks for"))

    def test_fp8_caches_are_decoded_not_refused(self):
        # is_fp8_kvcache and descale_k select an FP8 cache format (docs/fp8-kv-cache.md): the call
        # goes on to check the tensors (here q, None) instead of refusing the feature.
        if torch is None:
            self.skipTest(TORCH_PROBLEM)
        for keywords in (dict(is_fp8_kvcache=True), dict(descale_k=torch.ones(1))):
            with self.subTest(**{k: describe_value(v) for k, v in keywords.items()}):
                with self.assertRaises(ArgumentError) as ctx:
                    flash_mla_ts.flash_mla_with_kvcache(None, None, None, None, 512,
                                                        flash_mla_ts.FlashMLASchedMeta(),
                                                        **keywords)
                self.assertEqual(ctx.exception.argument, "q")
        with self.assertRaises(ArgumentError) as ctx:
            flash_mla_ts.flash_mla_with_kvcache(None, None, None, None, 512,
                                                flash_mla_ts.FlashMLASchedMeta(),
                                                is_fp8_kvcache=True, descale_k=torch.ones(1))
        self.assertEqual(ctx.exception.argument, "descale_k")
        meta = flash_mla_ts.get_mla_metadata(is_fp8_kvcache=True)  # the schedule takes any format
        self.assertIsInstance(meta[0], flash_mla_ts.FlashMLASchedMeta)

    def test_flashmla_prefill_and_sparse_entry_points_say_they_are_missing(self):
        for name in ("flash_mla_sparse_fwd", "flash_attn_varlen_func",
                     "flash_attn_varlen_qkvpacked_func", "flash_attn_varlen_kvpacked_func"):
            with self.subTest(name=name):
                with self.assertRaises(NotImplementedError) as ctx:
                    getattr(flash_mla_ts, name)(None, None, None)
                self.assertTrue(str(ctx.exception).startswith(f"{name}: "))


class WithoutTorchTest(unittest.TestCase):
    def test_the_package_imports_and_explains_without_torch(self):
        package_parent = str(Path(flash_mla_ts.__file__).resolve().parent.parent)
        script = (
            "import sys\n"
            f"sys.path.insert(0, {package_parent!r})\n"
            "sys.modules['torch'] = None  # import torch now raises ImportError\n"
            "import flash_mla_ts\n"
            "from flash_mla_ts import _ops\n"
            "assert not _ops.available and _ops.problem == 'torch is not installed'\n"
            "sched, none = flash_mla_ts.get_mla_metadata()\n"
            "assert none is None and not sched.have_initialized\n"
            "try:\n"
            "    flash_mla_ts.flash_mla_with_kvcache(1, 2, 3, 4, 512, sched)\n"
            "except ImportError as err:\n"
            "    assert 'needs PyTorch' in str(err), err\n"
            "else:\n"
            "    raise AssertionError('no ImportError')\n"
            "print('ok')\n"
        )
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), "ok")


class PackingTest(unittest.TestCase):
    def test_packed_views_read_back_as_fmla_tensors(self):
        block = _library.CallBlock()
        for ndim in range(_library.MAX_DIMS + 1):
            shape = [3 + d for d in range(ndim)]
            strides = [1000 - 7 * d for d in range(ndim)]
            _library.PACKERS[ndim](block, ndim * _library.TENSOR_BYTES, 0x7F00DEADBEE0 + ndim,
                                   2, ndim, *shape, *strides)
        for ndim in range(_library.MAX_DIMS + 1):
            view = block.tensors[ndim]
            self.assertEqual(view.data, 0x7F00DEADBEE0 + ndim)
            self.assertEqual((view.dtype, view.ndim), (2, ndim))
            self.assertEqual(list(view.shape)[:ndim], [3 + d for d in range(ndim)])
            self.assertEqual(list(view.strides)[:ndim], [1000 - 7 * d for d in range(ndim)])
        self.assertEqual(_library.CallBlock.device.offset,
                         _library.CALL_TENSORS * _library.TENSOR_BYTES)


# ------------------------------------------------------------------------------------ no GPU


def _cpu_mla_args(b=2, s_q=1, h_q=16, page_size=64, h_kv=1, num_pages=4):
    bf16, i32 = torch.bfloat16, torch.int32
    return dict(
        q=torch.zeros(b, s_q, h_q, 576, dtype=bf16),
        k_cache=torch.zeros(num_pages, page_size, h_kv, 576, dtype=bf16),
        block_table=torch.zeros(b, 3, dtype=i32),
        cache_seqlens=torch.zeros(b, dtype=i32),
        head_dim_v=512,
    )


def _initialized(config, b=2):
    i32 = torch.int32
    return flash_mla_ts.FlashMLASchedMeta(
        have_initialized=True, config=ScheduleConfig(*config),
        tile_scheduler_metadata=torch.zeros(4, 8, dtype=i32),
        num_splits=torch.zeros(b + 1, dtype=i32))


@unittest.skipIf(TORCH_PROBLEM, TORCH_PROBLEM)
class ScheduleArgumentTest(unittest.TestCase):
    """The schedule object's checks, on CPU tensors: they come before the device check."""

    BUILT = (2, 1, 16, 64, 1, True, False, None, None, None)

    def test_reuse_with_other_shapes_or_flags_names_the_difference(self):
        cases = [
            ("b", dict(b=3), {}, "built for b = 2 (the batch size, q.shape[0]), got b = 3"),
            ("s_q", dict(s_q=2), {}, "built for s_q = 1"),
            ("h_q", dict(h_q=32), {}, "built for h_q = 16 (query heads, q.shape[2]), got h_q = 32"),
            ("page_block_size", dict(page_size=16), {}, "built for page_block_size = 64"),
            ("h_k", dict(h_kv=2), {}, "built for h_k = 1"),
            ("causal", {}, dict(causal=False), "built for causal = True"),
        ]
        for field, shape_changes, call_changes, expected in cases:
            with self.subTest(field=field):
                sched = _initialized(self.BUILT)
                args = _cpu_mla_args(**shape_changes)
                with self.assertRaises(flash_mla_ts.ScheduleMismatchError) as ctx:
                    flash_mla_ts.flash_mla_with_kvcache(
                        **args, tile_scheduler_metadata=sched, **{"causal": True, **call_changes})
                message = str(ctx.exception)
                self.assertTrue(message.startswith("tile_scheduler_metadata: "), message)
                self.assertIn(expected, message)
                self.assertIn("get_mla_metadata()", message)
                self.assertIsInstance(ctx.exception, AssertionError)

    def test_matching_reuse_goes_on_to_the_call(self):
        sched = _initialized(self.BUILT)
        with self.assertRaises(ValueError) as ctx:
            flash_mla_ts.flash_mla_with_kvcache(**_cpu_mla_args(), tile_scheduler_metadata=sched,
                                                causal=True)
        self.assertIn("q: expected a CUDA tensor, got a tensor on cpu", str(ctx.exception))

    def test_num_splits_must_be_none_with_a_schedule_object(self):
        with self.assertRaises(ValueError) as ctx:
            flash_mla_ts.flash_mla_with_kvcache(
                **_cpu_mla_args(), tile_scheduler_metadata=flash_mla_ts.FlashMLASchedMeta(),
                num_splits=torch.zeros(3, dtype=torch.int32))
        self.assertIn("num_splits: expected None with a FlashMLASchedMeta", str(ctx.exception))

    def test_schedule_tensors_need_their_num_splits(self):
        with self.assertRaises(ValueError) as ctx:
            flash_mla_ts.flash_mla_with_kvcache(
                **_cpu_mla_args(), tile_scheduler_metadata=torch.zeros(4, 8, dtype=torch.int32))
        self.assertIn("num_splits: expected the num_splits tensor", str(ctx.exception))
        with self.assertRaises(TypeError) as ctx:
            flash_mla_ts.flash_mla_with_kvcache(**_cpu_mla_args(), tile_scheduler_metadata=[1])
        self.assertIn("tile_scheduler_metadata: expected a FlashMLASchedMeta", str(ctx.exception))

    def test_a_failed_first_call_leaves_the_object_unused(self):
        sched = flash_mla_ts.FlashMLASchedMeta()
        with self.assertRaises(ValueError):
            flash_mla_ts.flash_mla_with_kvcache(**_cpu_mla_args(), tile_scheduler_metadata=sched)
        self.assertFalse(sched.have_initialized)
        self.assertIsNone(sched.config)

    def test_heads_must_divide_before_a_schedule_is_built(self):
        with self.assertRaises(ValueError) as ctx:
            flash_mla_ts.flash_mla_with_kvcache(
                **_cpu_mla_args(h_q=12, h_kv=8),
                tile_scheduler_metadata=flash_mla_ts.FlashMLASchedMeta())
        self.assertIn("q: expected h_q to be a multiple of h_kv = 8", str(ctx.exception))

    def test_gqa_takes_the_schedule_object_too(self):
        args = _cpu_mla_args()
        q = torch.zeros(2, 1, 8, 128, dtype=torch.bfloat16)
        cache = torch.zeros(4, 16, 2, 128, dtype=torch.bfloat16)
        sched = _initialized((2, 1, 8, 16, 4, False, False, None, None, None))
        with self.assertRaises(flash_mla_ts.ScheduleMismatchError) as ctx:
            flash_mla_ts.gqa_decode_with_kvcache(q, cache, cache, args["block_table"],
                                                 args["cache_seqlens"], sched)
        self.assertIn("built for h_k = 4 (KV heads, k_cache.shape[2]), got h_k = 2",
                      str(ctx.exception))


class _StandInLibrary:
    """libflashmla's device and launch functions, in Python: records what the binding asks for and
    reads the fmla_tensor views it passes (which live only during the call)."""

    def __init__(self, current=0, status=0):
        self.current = current
        self.status = status
        self.calls = []

    def fmla_get_device(self, address):
        self.calls.append(("get",))
        ctypes.c_int.from_address(address).value = self.current
        return 0

    def fmla_set_device(self, device):
        self.calls.append(("set", device))
        self.current = device
        return 0

    @staticmethod
    def view(address):
        t = _library.FmlaTensor.from_address(address)
        return dict(data=t.data or 0, dtype=t.dtype, shape=tuple(t.shape[:t.ndim]),
                    strides=tuple(t.strides[:t.ndim]))

    def _launch(self, name, args, tensor_positions):
        views = {i: self.view(args[i]) for i in tensor_positions}
        self.calls.append((name, self.current, views, args))
        return self.status

    def fmla_mla_decode(self, *args):
        return self._launch("fmla_mla_decode", args, (0, 1, 2, 3, 5, 6, 9, 10))

    def fmla_gqa_decode(self, *args):
        return self._launch("fmla_gqa_decode", args, (0, 1, 2, 3, 4, 5, 6, 9, 10))

    def fmla_get_mla_metadata(self, *args):
        return self._launch("fmla_get_mla_metadata", args, (0, 3, 4))

    def fmla_write_kv(self, *args):
        return self._launch("fmla_write_kv", args, (0, 1, 2))

    def fmla_decode_workspace_bytes(self, b, s_q, h_q, d_v, parts):
        return 1000 * b + 7 * parts

    def fmla_mla_num_sm_parts(self, num_sms, q_tokens, h_kv):
        return 3

    def fmla_status_string(self, status):
        return b"FMLA_ERROR_INVALID_ARGUMENT"

    def fmla_last_error(self):
        return b"q: stand-in failure"


@unittest.skipIf(TORCH_PROBLEM, TORCH_PROBLEM)
class CallPlumbingTest(unittest.TestCase):
    """The eager path against a stand-in library, on CPU tensors taken to be on CUDA device
    `device`: the views and arguments handed over, and the current device switched only when it
    differs and always restored."""

    def setUp(self):
        tensors._workspace.clear()
        tensors._sm_parts.clear()

    tearDown = setUp

    def run_with(self, lib, device, fn):
        with mock.patch.object(_library, "_library", lib), \
                mock.patch.object(attention, "cuda_device_index", lambda names, ts: device), \
                mock.patch.object(attention, "current_stream", lambda index: 0x5000 + index), \
                mock.patch.object(tensors, "sm_count", lambda index: 132):
            return fn()

    def test_mla_views_and_arguments(self):
        args = _cpu_mla_args(b=2, s_q=2, h_q=16)
        meta = torch.zeros(5, 8, dtype=torch.int32)
        splits = torch.zeros(3, dtype=torch.int32)
        table = torch.zeros(2, 10, dtype=torch.int32)[:, 2:5]  # strided rows
        lib = _StandInLibrary(current=1)
        out, lse = self.run_with(lib, 1, lambda: flash_mla_ts.flash_mla_with_kvcache(
            args["q"], args["k_cache"], table, args["cache_seqlens"], 512, meta, splits,
            softmax_scale=0.25, causal=True))
        self.assertEqual([c[0] for c in lib.calls], ["get", "fmla_mla_decode"], "no device switch")
        _, device, views, call = lib.calls[1]
        self.assertEqual(views[0], dict(data=args["q"].data_ptr(), dtype=1, shape=(2, 2, 16, 576),
                                        strides=(2 * 16 * 576, 16 * 576, 576, 1)))
        self.assertEqual(views[2], dict(data=table.data_ptr(), dtype=4, shape=(2, 3),
                                        strides=(10, 1)))
        self.assertEqual(views[5]["shape"], (5, 8))
        self.assertEqual(views[9], dict(data=out.data_ptr(), dtype=1, shape=(2, 2, 16, 512),
                                        strides=(2 * 16 * 512, 16 * 512, 512, 1)))
        self.assertEqual(views[10], dict(data=lse.data_ptr(), dtype=0, shape=(2, 16, 2),
                                         strides=(32, 2, 1)))
        self.assertEqual((out.dtype, lse.dtype), (torch.bfloat16, torch.float32))
        self.assertEqual(call[4], 512)
        self.assertAlmostEqual(call[7], 0.25)
        self.assertEqual(call[8], 1)
        self.assertEqual(call[12], 1000 * 2 + 7 * 5, "workspace bytes for b = 2, 5 parts")
        self.assertEqual(call[13], 0x5001, "torch's current stream of the tensors' device")

    def test_the_current_device_is_switched_and_restored(self):
        lib = _StandInLibrary(current=0)
        args = _cpu_mla_args()
        self.run_with(lib, 1, lambda: flash_mla_ts.flash_mla_with_kvcache(
            **args, tile_scheduler_metadata=torch.zeros(4, 8, dtype=torch.int32),
            num_splits=torch.zeros(3, dtype=torch.int32)))
        self.assertEqual([c[:2] for c in lib.calls],
                         [("get",), ("set", 1), ("fmla_mla_decode", 1), ("set", 0)])
        self.assertEqual(lib.current, 0)

    def test_a_failing_call_restores_the_device_and_raises_the_library_message(self):
        lib = _StandInLibrary(current=0, status=1)
        args = _cpu_mla_args()
        with self.assertRaises(flash_mla_ts.InvalidArgumentError) as ctx:
            self.run_with(lib, 1, lambda: flash_mla_ts.flash_mla_with_kvcache(
                **args, tile_scheduler_metadata=torch.zeros(4, 8, dtype=torch.int32),
                num_splits=torch.zeros(3, dtype=torch.int32)))
        self.assertIn("fmla_mla_decode: FMLA_ERROR_INVALID_ARGUMENT: q: stand-in failure",
                      str(ctx.exception))
        self.assertEqual(lib.calls[-1], ("set", 0))
        self.assertEqual(lib.current, 0)

    def test_a_schedule_object_is_built_once_then_reused(self):
        lib = _StandInLibrary(current=0)
        args = _cpu_mla_args(b=2, s_q=2, h_q=16)
        sched, _ = flash_mla_ts.get_mla_metadata()
        call = lambda: flash_mla_ts.flash_mla_with_kvcache(**args, tile_scheduler_metadata=sched,
                                                          causal=True)
        self.run_with(lib, 0, call)
        self.assertEqual([c[0] for c in lib.calls],
                         ["get", "fmla_get_mla_metadata", "get", "fmla_mla_decode"])
        _, _, views, metadata_call = lib.calls[1]
        self.assertEqual(metadata_call[1:3], (2 * 16, 1), "s_q * h_q / h_kv query rows, h_kv")
        self.assertEqual(views[3]["shape"], (3, 8), "the stand-in's 3 parts")
        self.assertEqual(views[4]["shape"], (3,), "b + 1")
        self.assertTrue(sched.have_initialized)
        self.assertEqual(sched.config, ScheduleConfig(2, 2, 16, 64, 1, True, False, None, None,
                                                      None))
        self.assertEqual(tuple(sched.tile_scheduler_metadata.shape), (3, 8))
        metadata = sched.tile_scheduler_metadata
        lib.calls.clear()
        self.run_with(lib, 0, call)
        self.assertEqual([c[0] for c in lib.calls], ["get", "fmla_mla_decode"])
        self.assertIs(sched.tile_scheduler_metadata, metadata)
        self.assertEqual(lib.calls[1][2][5]["data"], metadata.data_ptr())

    def test_a_schedule_set_before_the_first_call_is_used_as_it_is(self):
        lib = _StandInLibrary()
        meta, splits = torch.zeros(6, 8, dtype=torch.int32), torch.zeros(3, dtype=torch.int32)
        sched = flash_mla_ts.FlashMLASchedMeta(tile_scheduler_metadata=meta, num_splits=splits)
        self.run_with(lib, 0, lambda: flash_mla_ts.flash_mla_with_kvcache(
            **_cpu_mla_args(), tile_scheduler_metadata=sched))
        self.assertEqual([c[0] for c in lib.calls], ["get", "fmla_mla_decode"])
        self.assertTrue(sched.have_initialized)
        self.assertIs(sched.tile_scheduler_metadata, meta)

    def test_gqa_metadata_and_write_kv_arguments(self):
        lib = _StandInLibrary(current=2)
        q = torch.zeros(3, 1, 8, 128, dtype=torch.float16)
        cache = torch.zeros(5, 16, 2, 128, dtype=torch.float16)
        table = torch.zeros(3, 4, dtype=torch.int32)
        lens = torch.zeros(3, dtype=torch.int32)
        meta, splits = self.run_with(lib, 2, lambda: flash_mla_ts.get_mla_metadata(
            lens, 4, 2, num_sms=7))
        self.assertEqual(lib.calls[1][0], "fmla_get_mla_metadata")
        self.assertEqual(lib.calls[1][3][1:3], (4, 2))
        self.assertEqual(lib.calls[1][3][5], 0x5002)
        out, lse = self.run_with(lib, 2, lambda: flash_mla_ts.gqa_decode_with_kvcache(
            q, cache, cache, table, lens, meta, splits, causal=False))
        _, _, views, call = lib.calls[-1]
        self.assertEqual(call[7], 128 ** -0.5)
        self.assertEqual(call[8], 0)
        self.assertEqual(views[2]["data"], cache.data_ptr())
        self.assertEqual(views[9]["shape"], (3, 1, 8, 128))
        self.assertEqual(out.dtype, torch.float16)
        rows = torch.zeros(7, 2, 128, dtype=torch.float16)
        slots = torch.zeros(7, dtype=torch.int32)
        self.run_with(lib, 2, lambda: flash_mla_ts.write_kv(cache, rows, slots))
        _, _, views, call = lib.calls[-1]
        self.assertEqual(views[1]["shape"], (7, 2, 128))
        self.assertEqual(views[2]["data"], slots.data_ptr())
        self.assertNotIn(("set", 0), lib.calls, "device 2 was current throughout")


@unittest.skipIf(OPS_PROBLEM, OPS_PROBLEM)
class FakeImplementationTest(unittest.TestCase):
    """The operators on meta tensors run their fake implementations: what torch.compile traces.
    (Under inference_mode: older torch has no autograd fallback for meta tensors.)"""

    def setUp(self):
        mode = torch.inference_mode()
        mode.__enter__()
        self.addCleanup(mode.__exit__, None, None, None)

    def test_decode_outputs_and_checks(self):
        meta = dict(device="meta")
        q = torch.empty(3, 2, 16, 576, dtype=torch.bfloat16, **meta)
        cache = torch.empty(10, 64, 1, 576, dtype=torch.bfloat16, **meta)
        table = torch.empty(3, 4, dtype=torch.int32, **meta)
        lens = torch.empty(3, dtype=torch.int32, **meta)
        sched = torch.empty(5, 8, dtype=torch.int32, **meta)
        splits = torch.empty(4, dtype=torch.int32, **meta)
        ops = torch.ops.flash_mla_ts
        out, lse = ops.mla_decode(q, cache, table, lens, 512, sched, splits, 0.1, True)
        self.assertEqual((tuple(out.shape), out.dtype), ((3, 2, 16, 512), torch.bfloat16))
        self.assertEqual((tuple(lse.shape), lse.dtype), ((3, 16, 2), torch.float32))
        gq = torch.empty(3, 1, 8, 128, dtype=torch.float16, **meta)
        gcache = torch.empty(10, 16, 2, 128, dtype=torch.float16, **meta)
        out, lse = ops.gqa_decode(gq, gcache, gcache, table, lens, sched, splits, 0.1, False)
        self.assertEqual(tuple(out.shape), (3, 1, 8, 128))
        ops.mla_decode_out(q, cache, table, lens, 512, sched, splits, 0.1, True,
                           torch.empty(3, 2, 16, 512, dtype=torch.bfloat16, **meta),
                           torch.empty(3, 16, 2, dtype=torch.float32, **meta))
        ops.write_kv(cache, torch.empty(5, 1, 576, dtype=torch.bfloat16, **meta),
                     torch.empty(5, dtype=torch.int32, **meta))
        with self.assertRaises(Exception) as ctx:
            ops.mla_decode(q, cache.half(), table, lens, 512, sched, splits, 0.1, True)
        self.assertIn("k_cache: expected dtype torch.bfloat16, got torch.float16",
                      str(ctx.exception))

    @unittest.skipIf(LIBRARY_PROBLEM, LIBRARY_PROBLEM)
    def test_metadata_shapes(self):
        lens = torch.empty(6, dtype=torch.int32, device="meta")
        metadata, splits = torch.ops.flash_mla_ts.get_mla_metadata(lens, 128, 1, 132)
        self.assertEqual(tuple(metadata.shape), (flash_mla_ts.mla_num_sm_parts(132, 128, 1), 8))
        self.assertEqual(tuple(splits.shape), (7,))
        self.assertEqual(splits.dtype, torch.int32)


# ------------------------------------------------------------------------------------ GPU

MAX_OUT_RELATIVE_ERROR = 1e-2
MAX_LSE_ABS_ERROR = 1e-3


def _problem(seed, device="cuda", **case):
    import paged_problems

    dtype = case.pop("dtype", torch.bfloat16)
    return paged_problems.make_problem(seed, device=device, dtype=dtype, **case)


def _check_against_reference(test, p, out, lse, causal, softmax_scale=None):
    import torch_reference

    scale = softmax_scale if softmax_scale is not None else p.q.shape[-1] ** -0.5
    ref_out, ref_lse = torch_reference.reference_decode(
        p.q, p.k_cache, p.v_cache, p.block_table, p.seqlens, p.head_dim_v, scale, causal)
    test.assertEqual(int(torch.isnan(out).sum()), 0)
    norm = float(ref_out.norm()) or 1.0
    test.assertLess(float((out.double() - ref_out).norm()) / norm, MAX_OUT_RELATIVE_ERROR)
    finite = torch.isfinite(ref_lse)
    if bool(finite.any()):
        test.assertLess(float((lse.double()[finite] - ref_lse[finite]).abs().max()),
                        MAX_LSE_ABS_ERROR)
    test.assertTrue(bool((lse[~finite] == math.inf).all()))


def _new_api(p, causal, sched=None, **kwargs):
    sched = sched if sched is not None else flash_mla_ts.get_mla_metadata()[0]
    out, lse = flash_mla_ts.flash_mla_with_kvcache(p.q, p.k_cache, p.block_table, p.cache_seqlens,
                                                   p.head_dim_v, sched, None, causal=causal,
                                                   **kwargs)
    return out, lse, sched


def _old_api(p, causal, num_sms=None):
    b, s_q, h_q, _ = p.q.shape
    h_kv = p.k_cache.shape[2]
    meta, splits = flash_mla_ts.get_mla_metadata(p.cache_seqlens, s_q * h_q // h_kv, h_kv,
                                                 num_sms=num_sms)
    out, lse = flash_mla_ts.flash_mla_with_kvcache(p.q, p.k_cache, p.block_table, p.cache_seqlens,
                                                   p.head_dim_v, meta, splits, causal=causal)
    return out, lse, meta, splits


CURRENT_API_CASES = [
    dict(b=4, s_k=300, varlen=True, s_q=1, h_q=16, page_size=64, causal=False),
    dict(b=3, s_k=500, varlen=True, s_q=2, h_q=128, page_size=64, causal=True),
    dict(b=5, s_k=200, varlen=True, s_q=3, h_q=32, h_kv=2, page_size=16, causal=True),
    dict(seqlens=[0, 130, 0, 1, 64], s_q=4, h_q=16, page_size=64, causal=True),
    dict(b=1, s_k=20000, s_q=1, h_q=64, page_size=64, causal=False),
]


@unittest.skipIf(GPU_PROBLEM, GPU_PROBLEM)
class CurrentApiGpuTest(unittest.TestCase):
    def test_schedule_object_matches_the_reference_and_the_2025_convention(self):
        for k, case in enumerate(CURRENT_API_CASES):
            with self.subTest(**case):
                case = dict(case)
                causal = case.pop("causal")
                p = _problem(4000 + k, **case)
                out, lse, sched = _new_api(p, causal)
                _check_against_reference(self, p, out, lse, causal)
                old_out, old_lse, meta, splits = _old_api(p, causal)
                torch.cuda.synchronize()
                self.assertTrue(torch.equal(out, old_out), "same schedule, same bits")
                self.assertTrue(torch.equal(lse, old_lse))
                self.assertEqual(sched.tile_scheduler_metadata.tolist(), meta.tolist())
                self.assertEqual(sched.num_splits.tolist(), splits.tolist())

    def test_metadata_tensor_alone_with_num_splits_none(self):
        # As vLLM's backend calls it: the 2025 call's first value, then num_splits=None.
        p = _problem(4050, b=4, s_k=900, varlen=True, s_q=1, h_q=16, page_size=64)
        out, lse, _, _ = _old_api(p, causal=False)
        meta, _ = flash_mla_ts.get_mla_metadata(p.cache_seqlens, 16, 1, is_fp8_kvcache=False)
        out2, lse2 = flash_mla_ts.flash_mla_with_kvcache(p.q, p.k_cache, p.block_table,
                                                         p.cache_seqlens, p.head_dim_v, meta, None)
        torch.cuda.synchronize()
        self.assertTrue(torch.equal(out, out2))
        self.assertTrue(torch.equal(lse, lse2))

    def test_reuse_keeps_the_schedule_and_the_results(self):
        p = _problem(4100, b=3, s_k=700, varlen=True, s_q=1, h_q=64, page_size=64)
        out1, lse1, sched = _new_api(p, causal=False)
        meta, splits = sched.tile_scheduler_metadata, sched.num_splits
        self.assertEqual(sched.config, ScheduleConfig(3, 1, 64, 64, 1, False, False, None, None,
                                                      None))
        for _ in range(3):  # every layer of a step
            out, lse, _ = _new_api(p, causal=False, sched=sched)
            self.assertIs(sched.tile_scheduler_metadata, meta)
            self.assertIs(sched.num_splits, splits)
            self.assertTrue(torch.equal(out, out1))
            self.assertTrue(torch.equal(lse, lse1))

    def test_reuse_with_another_batch_or_shape_is_refused(self):
        p = _problem(4200, b=3, s_k=300, varlen=True, s_q=2, h_q=32, page_size=64)
        _, _, sched = _new_api(p, causal=True)
        other_batch = _problem(4201, b=4, s_k=300, varlen=True, s_q=2, h_q=32, page_size=64)
        other_heads = _problem(4202, b=3, s_k=300, varlen=True, s_q=2, h_q=16, page_size=64)
        other_page = _problem(4203, b=3, s_k=300, varlen=True, s_q=2, h_q=32, page_size=16)
        other_kv_heads = _problem(4204, b=3, s_k=300, varlen=True, s_q=2, h_q=32, h_kv=2,
                                  page_size=64)
        other_tokens = _problem(4205, b=3, s_k=300, varlen=True, s_q=1, h_q=32, page_size=64)
        for field, q, causal in (("b", other_batch, True), ("h_q", other_heads, True),
                                 ("page_block_size", other_page, True),
                                 ("h_k", other_kv_heads, True), ("s_q", other_tokens, True),
                                 ("causal", p, False)):
            with self.subTest(field=field):
                with self.assertRaises(flash_mla_ts.ScheduleMismatchError) as ctx:
                    _new_api(q, causal=causal, sched=sched)
                self.assertIn(f"built for {field} = ", str(ctx.exception))
        out, lse, _ = _new_api(p, causal=True, sched=sched)  # still good for its own shapes
        _check_against_reference(self, p, out, lse, causal=True)

    def test_num_sms_and_preset_schedules(self):
        p = _problem(4300, b=2, s_k=3000, varlen=True, s_q=1, h_q=16, page_size=64)
        sched, _ = flash_mla_ts.get_mla_metadata(num_sms=7)
        out, lse, _ = _new_api(p, causal=False, sched=sched)
        old_out, _, meta, splits = _old_api(p, causal=False, num_sms=7)
        self.assertEqual(sched.tile_scheduler_metadata.tolist(), meta.tolist())
        self.assertTrue(torch.equal(out, old_out))
        preset = flash_mla_ts.FlashMLASchedMeta(tile_scheduler_metadata=meta, num_splits=splits)
        out2, _, _ = _new_api(p, causal=False, sched=preset)
        self.assertIs(preset.tile_scheduler_metadata, meta)
        self.assertTrue(torch.equal(out2, old_out))

    def test_gqa_with_a_schedule_object(self):
        p = _problem(4400, b=3, s_k=400, varlen=True, s_q=2, h_q=32, h_kv=8, d=128, page_size=16)
        sched, _ = flash_mla_ts.get_mla_metadata()
        for _ in range(2):
            out, lse = flash_mla_ts.gqa_decode_with_kvcache(p.q, p.k_cache, p.v_cache,
                                                            p.block_table, p.cache_seqlens, sched,
                                                            causal=True)
            _check_against_reference(self, p, out, lse, causal=True)
        self.assertEqual(sched.config.h_k, 8)

    def test_preallocated_outputs_with_a_schedule_object(self):
        p = _problem(4500, b=2, s_k=300, varlen=True, s_q=1, h_q=16, page_size=64)
        out = torch.full((2, 1, 16, 512), math.nan, dtype=torch.bfloat16, device="cuda")
        lse = torch.full((2, 16, 1), math.nan, dtype=torch.float32, device="cuda")
        result = _new_api(p, causal=False, out=out, lse=lse)
        self.assertIs(result[0], out)
        self.assertIs(result[1], lse)
        _check_against_reference(self, p, out, lse, causal=False)

    def test_first_call_captured_in_a_cuda_graph_rebuilds_the_schedule_at_each_replay(self):
        # As with FlashMLA: the schedule kernel is part of the graph, so a replay with new lengths
        # (written in place) schedules them afresh.
        first = _problem(4600, b=3, s_k=600, varlen=True, s_q=1, h_q=32, page_size=64)
        second = _problem(4601, seqlens=[40, 1500, 7], s_q=1, h_q=32, page_size=64)
        pages = max(first.k_cache.shape[0], second.k_cache.shape[0])
        cache = torch.zeros(pages, 64, 1, 576, dtype=torch.bfloat16, device="cuda")
        table = torch.zeros(3, max(first.block_table.shape[1], second.block_table.shape[1]),
                            dtype=torch.int32, device="cuda")

        def load(p):
            cache.zero_()
            cache[: p.k_cache.shape[0]].copy_(torch.nan_to_num(p.k_cache))
            table.zero_()
            table[:, : p.block_table.shape[1]].copy_(p.block_table.clamp(0, pages - 1))
            q.copy_(p.q)
            lens.copy_(p.cache_seqlens)

        q = torch.empty_like(first.q)
        lens = torch.empty_like(first.cache_seqlens)
        load(first)
        warmup = torch.cuda.Stream()
        warmup.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(warmup):  # loads the library and fills torch's caches
            _new_api(first, causal=False)
        torch.cuda.current_stream().wait_stream(warmup)
        sched, _ = flash_mla_ts.get_mla_metadata()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out, lse = flash_mla_ts.flash_mla_with_kvcache(q, cache, table, lens, 512, sched)
        self.assertTrue(sched.have_initialized)
        for p in (second, first):
            load(p)
            graph.replay()
            torch.cuda.synchronize()
            p.k_cache, p.block_table = cache, table
            _check_against_reference(self, p, out, lse, causal=False)


@unittest.skipIf(GPU_PROBLEM, GPU_PROBLEM)
class CurrentDeviceTest(unittest.TestCase):
    """The caller's current device is the same after a call; it is switched only when the tensors
    are elsewhere."""

    @staticmethod
    def library_device():
        current = ctypes.c_int(-1)
        lib = _library.load()
        _library.check("fmla_get_device", lib.fmla_get_device(ctypes.addressof(current)))
        return current.value

    def spy_set_device(self):
        lib = _library.load()
        real = lib.fmla_set_device
        calls = []

        def spy(device):
            calls.append(device)
            return real(device)

        patcher = mock.patch.object(lib, "fmla_set_device", spy)
        patcher.start()
        self.addCleanup(patcher.stop)
        return calls

    def test_on_the_current_device_nothing_is_switched(self):
        device = torch.cuda.current_device()
        p = _problem(5000, device=f"cuda:{device}", b=2, s_k=300, varlen=True, s_q=1, h_q=16,
                     page_size=64)
        calls = self.spy_set_device()
        _new_api(p, causal=False)
        _old_api(p, causal=False)
        flash_mla_ts.write_kv(p.k_cache, p.k_cache[0, :3], torch.tensor(
            [0, 1, 2], dtype=torch.int32, device=p.q.device))
        self.assertEqual(calls, [])
        self.assertEqual(torch.cuda.current_device(), device)
        self.assertEqual(self.library_device(), device)

    @unittest.skipIf(TWO_GPU_PROBLEM, TWO_GPU_PROBLEM)
    def test_tensors_on_another_gpu_leave_the_current_device_unchanged(self):
        for current, other in ((0, 1), (1, 0)):
            with self.subTest(current=current, tensors_on=other):
                torch.cuda.set_device(current)
                self.addCleanup(torch.cuda.set_device, 0)
                p = _problem(5100 + other, device=f"cuda:{other}", b=3, s_k=500, varlen=True,
                             s_q=2, h_q=32, page_size=64)
                calls = self.spy_set_device()
                out, lse, _ = _new_api(p, causal=True)
                self.assertEqual(torch.cuda.current_device(), current)
                self.assertEqual(self.library_device(), current)
                # The schedule's call switches through the library, the decode's too on the
                # ctypes path (the C++ call switches through torch).
                switches = 1 if flash_mla_ts.fast_path_status().startswith("C++") else 2
                self.assertEqual(calls, [other, current] * switches, "schedule, then decode")
                old_out, _, _, _ = _old_api(p, causal=True)
                flash_mla_ts.write_kv(p.k_cache, p.k_cache[0, :2].clone(), torch.tensor(
                    [-1, -1], dtype=torch.int32, device=p.q.device))
                self.assertEqual(torch.cuda.current_device(), current)
                self.assertEqual(self.library_device(), current)
                self.assertEqual(out.device, torch.device(f"cuda:{other}"))
                _check_against_reference(self, p, out, lse, causal=True)
                self.assertTrue(torch.equal(out, old_out))

    def test_a_failing_call_leaves_the_current_device_too(self):
        p = _problem(5200, b=2, s_k=100, s_q=1, h_q=16, page_size=64)
        device = torch.cuda.current_device()
        with self.assertRaises(flash_mla_ts.UnsupportedError):
            flash_mla_ts.flash_mla_with_kvcache(p.q, p.k_cache, p.block_table, p.cache_seqlens,
                                                256, flash_mla_ts.get_mla_metadata()[0])
        self.assertEqual(torch.cuda.current_device(), device)
        self.assertEqual(self.library_device(), device)


def median_call_us(fn, calls=200, rounds=7):
    """Host time of one call of `fn` in us: the median over rounds of back-to-back calls (the
    device synchronized between rounds, not counted)."""
    for _ in range(20):
        fn()
    torch.cuda.synchronize()
    medians = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        medians.append((time.perf_counter() - start) / calls * 1e6)
        torch.cuda.synchronize()
    return statistics.median(medians)


@unittest.skipIf(GPU_PROBLEM, GPU_PROBLEM)
class HostTimeTest(unittest.TestCase):
    """Host time of one decode call through the ctypes path (median over rounds of back-to-back
    calls on a problem small enough that the GPU keeps up). The binding's own share is measured
    with the library's decode replaced by a no-op; the bound is generous, the figures are printed.
    (test_fast_path.py times the C++ call, which the functions take when it is built.)"""

    BINDING_BOUND_US = 60.0  # a regression guard; 45-48 us measured on the H200 machine

    def time_calls(self, fn):
        return median_call_us(fn)

    def test_host_time_per_call(self):
        p = _problem(6000, b=1, s_k=64, s_q=1, h_q=16, page_size=64)
        meta, splits = flash_mla_ts.get_mla_metadata(p.cache_seqlens, 16, 1)
        sched, _ = flash_mla_ts.get_mla_metadata()
        _new_api(p, causal=False, sched=sched)
        args = (p.q, p.k_cache, p.block_table, p.cache_seqlens, 512)
        tensors_call = lambda: flash_mla_ts.flash_mla_with_kvcache(*args, meta, splits)
        object_call = lambda: flash_mla_ts.flash_mla_with_kvcache(*args, sched, None)
        ctypes_path = mock.patch.object(_fast, "decode", _fast._none)
        with ctypes_path:
            full = {"tensors": self.time_calls(tensors_call),
                    "object": self.time_calls(object_call)}
        lib = _library.load()
        with ctypes_path, mock.patch.object(lib, "fmla_mla_decode", lambda *a: 0):
            binding = {"tensors": self.time_calls(tensors_call),
                       "object": self.time_calls(object_call)}
        print(f"\nflash_mla_with_kvcache host time per call (ctypes path): with the library call "
              f"{full['tensors']:.1f} us (schedule tensors), {full['object']:.1f} us (schedule "
              f"object); the binding alone {binding['tensors']:.1f} us, {binding['object']:.1f} us",
              file=sys.stderr)
        for convention, us in binding.items():
            self.assertLess(us, self.BINDING_BOUND_US, convention)


# ------------------------------------------------------------------------------------ compile


@unittest.skipIf(COMPILE_PROBLEM, COMPILE_PROBLEM)
class CompileTest(unittest.TestCase):
    """torch.compile(fullgraph=True) of small steps that call the entry points: no graph break,
    and the same bits as the eager calls."""

    def setUp(self):
        import torch._dynamo

        torch._dynamo.reset()

    def problem(self):
        return _problem(7000, b=3, s_k=400, varlen=True, s_q=2, h_q=32, page_size=64)

    def check_tensors_convention(self, backend):
        p = self.problem()

        def step(q, k_cache, block_table, cache_seqlens):
            meta, splits = flash_mla_ts.get_mla_metadata(cache_seqlens, 2 * 32, 1)
            return flash_mla_ts.flash_mla_with_kvcache(q, k_cache, block_table, cache_seqlens,
                                                       512, meta, splits, causal=True)

        compiled = torch.compile(step, fullgraph=True, backend=backend)
        out, lse = compiled(p.q, p.k_cache, p.block_table, p.cache_seqlens)
        want_out, want_lse = step(p.q, p.k_cache, p.block_table, p.cache_seqlens)
        self.assertTrue(torch.equal(out, want_out))
        self.assertTrue(torch.equal(lse, want_lse))
        _check_against_reference(self, p, out, lse, causal=True)

    def test_tensors_convention_aot_eager(self):
        self.check_tensors_convention("aot_eager")

    @unittest.skipIf(TRITON_PROBLEM, TRITON_PROBLEM)
    def test_tensors_convention_inductor(self):
        self.check_tensors_convention("inductor")

    def test_schedule_object_built_and_reused_inside_the_compiled_step(self):
        p = self.problem()

        def step(q, k_cache, block_table, cache_seqlens, sched):
            out, lse = flash_mla_ts.flash_mla_with_kvcache(q, k_cache, block_table, cache_seqlens,
                                                           512, sched, None, causal=True)
            # a second layer: reuses the schedule the first one built
            out2, _ = flash_mla_ts.flash_mla_with_kvcache(q, k_cache, block_table, cache_seqlens,
                                                          512, sched, None, causal=True)
            return out, lse, out2

        compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
        sched, _ = flash_mla_ts.get_mla_metadata()
        out, lse, out2 = compiled(p.q, p.k_cache, p.block_table, p.cache_seqlens, sched)
        self.assertTrue(sched.have_initialized)
        self.assertEqual(sched.config.b, 3)
        self.assertEqual(tuple(sched.tile_scheduler_metadata.shape)[1], 8)
        eager_sched, _ = flash_mla_ts.get_mla_metadata()
        want_out, want_lse, _ = step(p.q, p.k_cache, p.block_table, p.cache_seqlens, eager_sched)
        self.assertTrue(torch.equal(out, want_out))
        self.assertTrue(torch.equal(out2, want_out))
        self.assertTrue(torch.equal(lse, want_lse))
        self.assertEqual(sched.tile_scheduler_metadata.tolist(),
                         eager_sched.tile_scheduler_metadata.tolist())
        again, _, _ = compiled(p.q, p.k_cache, p.block_table, p.cache_seqlens, sched)  # initialized
        self.assertTrue(torch.equal(again, want_out))

    def test_write_then_decode_into_preallocated_outputs(self):
        p = self.problem()
        rows = p.k_cache[0, :4].clone()
        slots = torch.tensor([-1, -1, -1, -1], dtype=torch.int32, device="cuda")

        def step(q, k_cache, block_table, cache_seqlens, sched, out, lse):
            flash_mla_ts.write_kv(k_cache, rows, slots)
            return flash_mla_ts.flash_mla_with_kvcache(q, k_cache, block_table, cache_seqlens,
                                                       512, sched, None, causal=True, out=out,
                                                       lse=lse)

        out = torch.full((3, 2, 32, 512), math.nan, dtype=torch.bfloat16, device="cuda")
        lse = torch.full((3, 32, 2), math.nan, dtype=torch.float32, device="cuda")
        compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
        sched, _ = flash_mla_ts.get_mla_metadata()
        result = compiled(p.q, p.k_cache, p.block_table, p.cache_seqlens, sched, out, lse)
        self.assertEqual([r.data_ptr() for r in result], [out.data_ptr(), lse.data_ptr()])
        _check_against_reference(self, p, out, lse, causal=True)

    def test_gqa(self):
        p = _problem(7100, b=2, s_k=300, varlen=True, s_q=1, h_q=16, h_kv=4, d=128, page_size=16)

        def step(q, k_cache, v_cache, block_table, cache_seqlens):
            meta, splits = flash_mla_ts.get_mla_metadata(cache_seqlens, 4, 4)
            return flash_mla_ts.gqa_decode_with_kvcache(q, k_cache, v_cache, block_table,
                                                        cache_seqlens, meta, splits)

        compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
        out, lse = compiled(p.q, p.k_cache, p.v_cache, p.block_table, p.cache_seqlens)
        _check_against_reference(self, p, out, lse, causal=False)


if __name__ == "__main__":
    unittest.main()
