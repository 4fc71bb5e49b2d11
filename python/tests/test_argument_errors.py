"""Every public function and constructor refuses a bad argument with ArgumentError naming the
argument, the expected and the actual value (strings quoted), before anything reaches the library.

    python -m pytest python/tests/test_argument_errors.py -v

The property tests start from a valid call of each entry point and replace one argument with a
random value drawn by its kind (wrong_values.py: other types, strings like '8', bools, floats,
None, containers, ints out of range, tensors of another dtype, rank, layout, device or size),
seeded, many trials each. An outcome is accepted only if it is an ArgumentError with non-empty
fields (naming the replaced argument where the binding must refuse it by itself, quoting a string),
a NotImplementedError (a feature this library lacks, or a head dim its kernels lack), or, for a
value that happens to be valid, a result that passes.

Without a GPU the calls take CPU tensors: the binding checks every argument before the device, so
each check is exercised, and a call whose checks all pass stops at the device check. On a GPU the
same trials run on CUDA tensors, where the library's own checks (one argument's shape against
another's) answer too, and results are compared with the float64 reference. The torch operators
are tried on meta tensors, through their fake implementations.
"""

import collections
import math
import pickle
import random
import unittest

import flash_mla_ts
from flash_mla_ts import ArgumentError, FlashMLASchedMeta, _ops
from flash_mla_ts.errors import InvalidArgumentError, describe_value
from flash_mla_ts.schedule import ScheduleConfig

from gpu_probe import GPU_PROBLEM, LIBRARY_PROBLEM, TORCH_PROBLEM, torch

OPS_PROBLEM = TORCH_PROBLEM or (None if _ops.available else _ops.problem)
INT32_MAX = 2**31 - 1
TRIALS = 300
GPU_TRIALS = 150


class ErrorClassTest(unittest.TestCase):
    """The error classes themselves (no torch needed)."""

    def test_argument_error_is_a_type_and_a_value_error_worded_as_in_typescript(self):
        err = ArgumentError("softmax_scale", "a finite float", "'8'")
        self.assertIsInstance(err, TypeError)
        self.assertIsInstance(err, ValueError)
        self.assertEqual(str(err), "softmax_scale: expected a finite float, got '8'")
        self.assertEqual((err.argument, err.expected, err.actual),
                         ("softmax_scale", "a finite float", "'8'"))

    def test_the_library_invalid_argument_error_carries_the_parsed_fields(self):
        detail = "q: expected a non-empty [b, s_q, h_q, d_qk], got [0, 1, 16, 576]"
        err = InvalidArgumentError("fmla_mla_decode", 1, "FMLA_ERROR_INVALID_ARGUMENT", detail)
        self.assertIsInstance(err, ArgumentError)
        self.assertIsInstance(err, flash_mla_ts.FlashMlaError)
        self.assertEqual(err.status, 1)
        self.assertEqual((err.argument, err.expected, err.actual),
                         ("q", "a non-empty [b, s_q, h_q, d_qk]", "[0, 1, 16, 576]"))
        self.assertEqual(str(err), "fmla_mla_decode: FMLA_ERROR_INVALID_ARGUMENT: q: expected a "
                                   "non-empty [b, s_q, h_q, d_qk], got [0, 1, 16, 576]")
        odd = InvalidArgumentError("fmla_x", 1, "FMLA_ERROR_INVALID_ARGUMENT", "no such form")
        self.assertEqual((odd.argument, odd.expected, odd.actual), (None, None, None))

    def test_other_classes(self):
        self.assertTrue(issubclass(flash_mla_ts.ScheduleMismatchError, ArgumentError))
        self.assertTrue(issubclass(flash_mla_ts.ScheduleMismatchError, AssertionError))
        self.assertTrue(issubclass(flash_mla_ts.UnsupportedError, NotImplementedError))
        self.assertTrue(issubclass(flash_mla_ts.UnsupportedError, ValueError))
        self.assertIn("ArgumentError", flash_mla_ts.__all__)

    def test_errors_survive_pickling(self):
        # (as between processes of a multi-GPU run)
        errors = [
            ArgumentError("q", "a torch.Tensor", "None"),
            InvalidArgumentError("fmla_write_kv", 1, "FMLA_ERROR_INVALID_ARGUMENT",
                                 "rows: expected shape[1] = 2 (h_kv of cache), got 3"),
            flash_mla_ts.ScheduleMismatchError("tile_scheduler_metadata", "b = 2", "b = 3",
                                               "Take a new one"),
            flash_mla_ts.CudaError("fmla_mla_decode", 3, "FMLA_ERROR_CUDA", "launch failed"),
        ]
        for err in errors:
            with self.subTest(type(err).__name__):
                copy = pickle.loads(pickle.dumps(err))
                self.assertIs(type(copy), type(err))
                self.assertEqual(str(copy), str(err))
                self.assertEqual(vars(copy), vars(err))


class DescribeValueTest(unittest.TestCase):
    def test_values_read_apart(self):
        cases = [
            ("8", "'8'"), (8, "8"), (8.0, "8.0"), (True, "True (a bool)"), (None, "None"),
            (math.nan, "nan"), (-math.inf, "-inf"), (b"8", "b'8'"),
            ([1, 2], "a list of 2 elements"), ((512,), "a tuple of 1 element"), ({}, "a dict"),
            (object(), "an object"),
            (int, "the class int"), (1j, "1j (a complex)"),
        ]
        for value, text in cases:
            with self.subTest(value=value):
                self.assertEqual(describe_value(value), text)

    @unittest.skipIf(TORCH_PROBLEM, TORCH_PROBLEM)
    def test_tensors_by_shape_dtype_and_device(self):
        self.assertEqual(describe_value(torch.zeros(2, 3)),
                         "a torch.Tensor of shape (2, 3) dtype torch.float32 on cpu")
        self.assertEqual(describe_value(torch.float16), "torch.float16 (a torch.dtype)")


@unittest.skipIf(TORCH_PROBLEM, TORCH_PROBLEM)
class IssueCasesTest(unittest.TestCase):
    """One case per kind of mistake, each with the words it must produce. CPU tensors: every check
    here comes before the device check."""

    def setUp(self):
        self.mla = _mla_arguments("cpu")

    def decode(self, **changes):
        return flash_mla_ts.flash_mla_with_kvcache(**{**self.mla, **changes})

    def test_cases(self):
        a = self.mla
        Sched = FlashMLASchedMeta
        cases = [
            ("softmax_scale", "'8'", lambda: self.decode(softmax_scale="8")),
            ("softmax_scale", "got nan", lambda: self.decode(softmax_scale=math.nan)),
            ("softmax_scale", "got inf", lambda: self.decode(softmax_scale=math.inf)),
            ("softmax_scale", "got 1e+39", lambda: self.decode(softmax_scale=1e39)),
            ("softmax_scale", "got True (a bool)", lambda: self.decode(softmax_scale=True)),
            ("head_dim_v", "got '512'", lambda: self.decode(head_dim_v="512")),
            ("head_dim_v", "got True (a bool)", lambda: self.decode(head_dim_v=True)),
            ("head_dim_v", "got 512.0", lambda: self.decode(head_dim_v=512.0)),
            ("head_dim_v", "[1, 576] (at most d_qk, q.shape[3]), got 4294967808",
             lambda: self.decode(head_dim_v=2**32 + 512)),
            ("causal", "a bool, got 'False'", lambda: self.decode(causal="False")),
            ("causal", "a bool, got None", lambda: self.decode(causal=None)),
            ("is_fp8_kvcache", "a bool, got 'no'", lambda: self.decode(is_fp8_kvcache="no")),
            ("indices", "a torch.Tensor or None, got '8'", lambda: self.decode(indices="8")),
            ("q", "a torch.Tensor, got None", lambda: self.decode(q=None)),
            ("k_cache", "got a list of 2 elements", lambda: self.decode(k_cache=[1, 2])),
            ("block_table", "dtype torch.int32, got torch.int64",
             lambda: self.decode(block_table=a["block_table"].long())),
            ("cache_seqlens", "1 dims [b], got shape (1, 2)",
             lambda: self.decode(cache_seqlens=a["cache_seqlens"][None])),
            ("q", "a contiguous last dimension (stride 1)",
             lambda: self.decode(q=torch.zeros(2, 1, 16, 1152, dtype=torch.bfloat16)[..., ::2])),
            ("tile_scheduler_metadata", "got '8'",
             lambda: self.decode(tile_scheduler_metadata="8", num_splits=None)),
            ("num_splits", "None with a FlashMLASchedMeta",
             lambda: self.decode(tile_scheduler_metadata=Sched(), num_splits="8")),
            ("q", "expected a CUDA tensor, got a tensor on cpu", lambda: self.decode()),
            ("num_heads_k", "got '8'", lambda: flash_mla_ts.get_mla_metadata(
                a["cache_seqlens"], 16, "8")),
            ("num_heads_k", "(an int32), got 2147483648", lambda: flash_mla_ts.get_mla_metadata(
                a["cache_seqlens"], 16, 2**31)),
            ("num_q_tokens_per_head_k", "got -1", lambda: flash_mla_ts.get_mla_metadata(
                a["cache_seqlens"], -1, 1)),
            ("num_sms", "[1, 4096] (an SM count), got 0",
             lambda: flash_mla_ts.get_mla_metadata(num_sms=0)),
            ("num_sms", "got '132'", lambda: flash_mla_ts.mla_num_sm_parts("132", 16, 1)),
            ("topk", "got '2048'", lambda: flash_mla_ts.get_mla_metadata(
                a["cache_seqlens"], 16, 1, topk="2048")),
            ("cache_seqlens", "a torch.Tensor, got a list of 2 elements",
             lambda: flash_mla_ts.get_mla_metadata([2, 3], 16, 1)),
            ("slot_mapping", "dtype torch.int32, got torch.int64", lambda: flash_mla_ts.write_kv(
                torch.zeros(2, 4, 1, 8), torch.zeros(1, 1, 8), torch.zeros(1, dtype=torch.long))),
            ("rows", "dtype torch.float32, got torch.float16", lambda: flash_mla_ts.write_kv(
                torch.zeros(2, 4, 1, 8), torch.zeros(1, 1, 8).half(),
                torch.zeros(1, dtype=torch.int32))),
            ("have_initialized", "a bool, got 'yes'", lambda: Sched(have_initialized="yes")),
            ("have_initialized", "unless config and the schedule tensors are set",
             lambda: Sched(have_initialized=True)),
            ("config", "a FlashMLASchedMeta.Config or None, got a tuple of 3 elements",
             lambda: Sched(config=(1, 2, 3))),
            ("num_splits", "set together with the other schedule tensor",
             lambda: Sched(tile_scheduler_metadata=torch.zeros(4, 8, dtype=torch.int32))),
            ("num_sms", "got 8.0", lambda: Sched(num_sms=8.0)),
        ]
        for argument, words, call in cases:
            with self.subTest(argument=argument, words=words):
                with self.assertRaises(ArgumentError) as ctx:
                    call()
                err = ctx.exception
                self.assertEqual(err.argument, argument, str(err))
                self.assertTrue(str(err).startswith(f"{argument}: expected "), str(err))
                self.assertIn(words, str(err))

    def test_a_reused_schedule_names_the_difference(self):
        config = ScheduleConfig(2, 1, 16, 16, 1, False, False, None, None, None)
        sched = FlashMLASchedMeta(have_initialized=True, config=config,
                                  tile_scheduler_metadata=torch.zeros(4, 8, dtype=torch.int32),
                                  num_splits=torch.zeros(3, dtype=torch.int32))
        with self.assertRaises(ArgumentError) as ctx:
            self.decode(tile_scheduler_metadata=sched, num_splits=None, causal=True)
        err = ctx.exception
        self.assertIsInstance(err, flash_mla_ts.ScheduleMismatchError)
        self.assertEqual((err.argument, err.actual), ("tile_scheduler_metadata", "causal = True"))

    def test_unsupported_features_stay_not_implemented(self):
        with self.assertRaises(NotImplementedError):
            self.decode(indices=torch.zeros(2, 1, 8))

    def test_descale_q_needs_an_fp8_e4m3_cache(self):
        for changes in (dict(descale_q=torch.ones(1)),
                        dict(descale_q=torch.ones(1), is_fp8_kvcache=True),
                        dict(descale_q=torch.ones(2), descale_k=torch.ones(1))):
            with self.subTest(**{k: describe_value(v) for k, v in changes.items()}):
                with self.assertRaises(ArgumentError) as ctx:
                    self.decode(**changes)
                self.assertEqual(ctx.exception.argument, "descale_q")
        with self.assertRaises(NotImplementedError):
            flash_mla_ts.get_mla_metadata(self.mla["cache_seqlens"], 16, 1, topk=2048)

    def test_flags_and_defaults_that_pass(self):
        # 0 / 1 are flags; a valid call with them goes on to the device check.
        for changes in (dict(causal=1), dict(causal=0), dict(is_fp8_kvcache=0),
                        dict(softmax_scale=1), dict(head_dim_v=256)):
            with self.subTest(**changes):
                with self.assertRaises(ArgumentError) as ctx:
                    self.decode(**changes)
                self.assertIn("expected a CUDA tensor", str(ctx.exception))


# ------------------------------------------------------------------------------------ properties


def _values(shape, seed, device):
    """Attention inputs in [-0.4, 0.4] or so, the same for a seed on every device."""
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=generator) / 10).to(device=device, dtype=torch.bfloat16)


def _mla_arguments(device, b=2, s_q=1, h_q=16, h_kv=1, page_size=16, num_pages=4):
    i32 = torch.int32
    lengths = torch.tensor([5, 25][:b] + [3] * max(0, b - 2), dtype=i32, device=device)
    return dict(
        q=_values((b, s_q, h_q, 576), 1, device),
        k_cache=_values((num_pages, page_size, h_kv, 576), 2, device),
        block_table=torch.arange(2 * b, dtype=i32, device=device).view(b, 2) % num_pages,
        cache_seqlens=lengths,
        head_dim_v=512,
        tile_scheduler_metadata=torch.zeros(4, 8, dtype=i32, device=device),
        num_splits=torch.zeros(b + 1, dtype=i32, device=device),
    )


def _gqa_arguments(device, b=2, s_q=1, h_q=8, h_kv=2, d=128, page_size=16, num_pages=4):
    a = _mla_arguments(device, b=b, s_q=s_q, h_q=h_q, h_kv=h_kv, page_size=page_size,
                       num_pages=num_pages)
    del a["head_dim_v"]
    a["q"] = _values((b, s_q, h_q, d), 3, device)
    a["k_cache"] = _values((num_pages, page_size, h_kv, d), 4, device)
    a["v_cache"] = _values((num_pages, page_size, h_kv, d), 5, device)
    return a


class Case:
    """A valid call of one entry point: `make()` gives fresh arguments (a new schedule object
    where one is used), `kinds` how to draw each argument, `check(arguments, result)` what a call
    that passes must return."""

    def __init__(self, name, function, make, kinds, check):
        self.name = name
        self.function = function
        self.make = make
        self.kinds = kinds
        self.check = check


def _decode_kinds(wv, a, schedule_object=None):
    """How to draw each argument of a decode whose valid arguments are `a` (GQA when it has a
    v_cache); with `schedule_object`, FlashMLA's current convention (the tensor it may be swapped
    for)."""
    q = a["q"]
    b, s_q, h_q, d_qk = q.shape
    gqa = "v_cache" in a
    d_v = d_qk if gqa else a["head_dim_v"]
    half, i32, f32 = {torch.bfloat16, torch.float16}, {torch.int32}, {torch.float32}
    kinds = {
        "q": wv.TensorArg(half),
        "k_cache": wv.TensorArg({q.dtype}, grow_only=(0, 1)),
        "block_table": wv.TensorArg(i32, grow_only=(1,)),
        "cache_seqlens": wv.TensorArg(i32, grow_only=(0,)),
        "softmax_scale": wv.ScaleArg(),
        "causal": wv.FlagArg(),
        "out": wv.TensorArg({q.dtype}, optional=True,
                            example=wv.filled((b, s_q, h_q, d_v), q.dtype, q.device)),
        "lse": wv.TensorArg(f32, optional=True,
                            example=wv.filled((b, h_q, s_q), torch.float32, q.device)),
    }
    if gqa:
        kinds["v_cache"] = wv.TensorArg({q.dtype})
    else:
        kinds["head_dim_v"] = wv.IntArg(1, 576)
        kinds["is_fp8_kvcache"] = wv.FlagArg()
        kinds["descale_k"] = wv.DescaleArg()
        for name in ("indices", "attn_sink", "extra_k_cache", "extra_indices_in_kvcache",
                     "topk_length", "extra_topk_length"):
            kinds[name] = wv.RefusedTensorArg()
    if schedule_object is None:
        kinds["tile_scheduler_metadata"] = wv.TensorArg(i32, contiguous=True, fixed=(0,))
        kinds["num_splits"] = wv.TensorArg(i32, contiguous=True, optional=True)
    else:
        kinds["tile_scheduler_metadata"] = wv.ScheduleObjectArg(schedule_object)
        kinds["num_splits"] = wv.NoneOnlyArg(schedule_object)
    return kinds


def _decode_check(test, on_gpu, gqa):
    def check(arguments, result):
        if not on_gpu:
            test.fail("a decode cannot pass without a GPU")
        import torch_reference

        q = arguments["q"]
        b, s_q, h_q, d_qk = q.shape
        d_v = d_qk if gqa else arguments["head_dim_v"]
        out, lse = result
        test.assertEqual((tuple(out.shape), out.dtype), ((b, s_q, h_q, d_v), q.dtype))
        test.assertEqual((tuple(lse.shape), lse.dtype), ((b, h_q, s_q), torch.float32))
        scale = arguments.get("softmax_scale")
        scale = d_qk ** -0.5 if scale is None else float(scale)
        ref_out, ref_lse = torch_reference.reference_decode(
            q, arguments["k_cache"], arguments.get("v_cache"), arguments["block_table"],
            arguments["cache_seqlens"].tolist(), d_v, scale, bool(arguments.get("causal", False)))
        norm = float(ref_out.norm()) or 1.0
        test.assertLess(float((out.double() - ref_out).norm()) / norm, 1e-2)
        finite = torch.isfinite(ref_lse)
        if bool(finite.any()):
            test.assertLess(float((lse.double()[finite] - ref_lse[finite]).abs().max()), 1e-3)

    return check


def _decode_cases(test, device):
    """MLA and GQA decodes in both conventions: the schedule tensors, a new schedule object, and
    one reused after the call that built it."""
    import wrong_values as wv

    on_gpu = device != "cpu"
    mla, gqa = _mla_arguments(device), _gqa_arguments(device)
    if on_gpu:  # real schedules: calls that pass must give right results
        for a in (mla, gqa):
            h_q, h_kv = a["q"].shape[2], a["k_cache"].shape[2]
            a["tile_scheduler_metadata"], a["num_splits"] = flash_mla_ts.get_mla_metadata(
                a["cache_seqlens"], h_q // h_kv, h_kv)

    def built(function, a):
        """A schedule object after its first call (off the GPU: as that call would leave it)."""
        b, s_q, h_q, _ = a["q"].shape
        _, page_size, h_kv, _ = a["k_cache"].shape
        if not on_gpu:
            config = ScheduleConfig(b, s_q, h_q, page_size, h_kv, False, False, None, None, None)
            return FlashMLASchedMeta(True, config, a["tile_scheduler_metadata"],
                                     a["num_splits"])
        sched = FlashMLASchedMeta()
        function(**{**a, "tile_scheduler_metadata": sched, "num_splits": None})
        return sched

    mla_fn, gqa_fn = flash_mla_ts.flash_mla_with_kvcache, flash_mla_ts.gqa_decode_with_kvcache
    cases = []
    for name, fn, a, is_gqa in (("mla", mla_fn, mla, False), ("gqa", gqa_fn, gqa, True)):
        check = _decode_check(test, on_gpu, is_gqa)
        metadata = a["tile_scheduler_metadata"]
        cases.append(Case(f"{name}, schedule tensors", fn, lambda a=a: dict(a),
                          _decode_kinds(wv, a), check))
        new_object = lambda a=a: {**a, "tile_scheduler_metadata": FlashMLASchedMeta(),
                                  "num_splits": None}
        cases.append(Case(f"{name}, new schedule object", fn, new_object,
                          _decode_kinds(wv, a, metadata), check))
        sched = built(fn, a)
        reused = lambda a=a, sched=sched: {**a, "tile_scheduler_metadata": sched,
                                           "num_splits": None}
        cases.append(Case(f"{name}, reused schedule object", fn, reused,
                          _decode_kinds(wv, a, metadata), check))
    return cases


def _cache_dtypes():
    dtypes = {torch.bfloat16, torch.float16, torch.float32}
    if getattr(torch, "float8_e4m3fn", None) is not None:
        dtypes.add(torch.float8_e4m3fn)
    return dtypes


def _other_cases(test, device):
    """get_mla_metadata, mla_num_sm_parts, write_kv and the FlashMLASchedMeta constructor."""
    import wrong_values as wv

    on_gpu = device != "cpu"
    i32 = {torch.int32}
    lengths = torch.tensor([5, 25, 0], dtype=torch.int32, device=device)

    def check_metadata(arguments, result):
        metadata, splits = result
        if arguments["cache_seqlens"] is None:
            test.assertIsInstance(metadata, FlashMLASchedMeta)
            test.assertIsNone(splits)
            return
        test.assertTrue(on_gpu, "a schedule cannot be computed without a GPU")
        b = arguments["cache_seqlens"].shape[0]
        test.assertEqual((metadata.dtype, metadata.shape[1], tuple(splits.shape)),
                         (torch.int32, 8, (b + 1,)))

    def check_parts(arguments, result):
        test.assertIsInstance(result, int)
        test.assertGreaterEqual(result, 1)

    def check_write(arguments, result):
        test.assertTrue(on_gpu, "a cache write cannot pass without a GPU")
        test.assertIsNone(result)

    def check_sched(arguments, result):
        test.assertIsInstance(result, FlashMLASchedMeta)

    cache = _values((4, 16, 2, 64), 6, device)
    return [
        Case("get_mla_metadata", flash_mla_ts.get_mla_metadata,
             lambda: dict(cache_seqlens=lengths, num_q_tokens_per_head_k=16, num_heads_k=1,
                          num_heads_q=16, is_fp8_kvcache=False, topk=None, num_sms=8),
             dict(cache_seqlens=wv.TensorArg(i32, optional=True, grow_only=(0,)),
                  num_q_tokens_per_head_k=wv.IntArg(1, INT32_MAX),
                  num_heads_k=wv.IntArg(1, INT32_MAX),
                  num_heads_q=wv.IntArg(1, INT32_MAX, optional=True),
                  is_fp8_kvcache=wv.FlagArg(), topk=wv.RefusedIntArg(),
                  num_sms=wv.IntArg(1, 4096, optional=True)),
             check_metadata),
        Case("mla_num_sm_parts", flash_mla_ts.mla_num_sm_parts,
             lambda: dict(num_sms=132, num_q_tokens_per_head_k=16, num_heads_k=1),
             dict(num_sms=wv.IntArg(1, 4096), num_q_tokens_per_head_k=wv.IntArg(1, INT32_MAX),
                  num_heads_k=wv.IntArg(1, INT32_MAX)),
             check_parts),
        Case("write_kv", flash_mla_ts.write_kv,
             lambda: dict(cache=cache.clone(), rows=cache[0, :3].clone(),
                          slot_mapping=torch.tensor([0, 17, -1], dtype=torch.int32,
                                                    device=device)),
             dict(cache=wv.TensorArg(_cache_dtypes()), rows=wv.TensorArg({torch.bfloat16}),
                  slot_mapping=wv.TensorArg(i32)),
             check_write),
        Case("FlashMLASchedMeta", FlashMLASchedMeta,
             lambda: dict(have_initialized=False, config=None, tile_scheduler_metadata=None,
                          num_splits=None, num_sms=None),
             dict(have_initialized=wv.FlagArg(), config=wv.ConfigArg(),
                  tile_scheduler_metadata=wv.TensorArg(
                      i32, contiguous=True, optional=True, placed=False,
                      example=torch.zeros(4, 8, dtype=torch.int32, device=device)),
                  num_splits=wv.TensorArg(
                      i32, contiguous=True, optional=True, placed=False,
                      example=torch.zeros(3, dtype=torch.int32, device=device)),
                  num_sms=wv.IntArg(1, 4096, optional=True)),
             check_sched),
    ]


# The library's name for the MLA cache, which its own messages use.
_LIBRARY_NAMES = {"kv_cache"}


def _expect(test, call, name, value, must_name, check, arguments, library_missing=False):
    """Runs one trial; returns the kind of outcome. Anything but the accepted outcomes fails. An
    ArgumentError must name one of the call's `arguments`, and `name` where `must_name`."""
    try:
        result = call()
    except ArgumentError as err:
        for field in ("argument", "expected", "actual"):
            text = getattr(err, field)
            test.assertTrue(isinstance(text, str) and text, f"{field} of {err!r}")
        test.assertIn(f"{err.argument}: expected {err.expected}, got {err.actual}", str(err))
        test.assertIn(err.argument, set(arguments) | _LIBRARY_NAMES, str(err))
        if must_name:
            test.assertEqual(err.argument, name, str(err))
        if err.argument == name and isinstance(value, str):
            test.assertIn(repr(value), err.actual)
        return "ArgumentError"
    except NotImplementedError as err:
        test.assertFalse(must_name, f"NotImplementedError where {name} must be refused: {err}")
        return "NotImplementedError"
    except flash_mla_ts.LibraryNotFoundError:
        if not library_missing or must_name:
            raise
        return "no library"
    test.assertFalse(must_name, f"{name} = {describe_value(value)} was accepted")
    check(result)
    return "passed"


def _run_trials(test, case, trials, seed, on_gpu):
    rng = random.Random(seed)
    names = sorted(case.kinds)
    outcomes = collections.Counter()
    for trial in range(trials):
        arguments = case.make()
        name = rng.choice(names)
        value, must_name = case.kinds[name].draw(rng, arguments.get(name), on_gpu)
        arguments[name] = value
        with test.subTest(case=case.name, trial=trial, argument=name,
                          value=describe_value(value)):
            outcomes[_expect(test, lambda: case.function(**arguments), name, value, must_name,
                             lambda result: case.check(arguments, result), case.kinds,
                             library_missing=bool(LIBRARY_PROBLEM))] += 1
    test.assertGreater(outcomes["ArgumentError"], trials // 4, f"{case.name}: {outcomes}")
    return outcomes


@unittest.skipIf(TORCH_PROBLEM, TORCH_PROBLEM)
class ArgumentPropertyTest(unittest.TestCase):
    """Random trials on CPU tensors (runs without a GPU)."""

    def test_decodes(self):
        for k, case in enumerate(_decode_cases(self, "cpu")):
            _run_trials(self, case, TRIALS, 1000 + k, on_gpu=False)

    def test_schedule_cache_writes_and_the_schedule_object(self):
        for k, case in enumerate(_other_cases(self, "cpu")):
            outcomes = _run_trials(self, case, TRIALS, 2000 + k, on_gpu=False)
            if case.name in ("FlashMLASchedMeta", "get_mla_metadata"):
                self.assertGreater(outcomes["passed"], 0, f"{case.name}: {outcomes}")


@unittest.skipIf(GPU_PROBLEM, GPU_PROBLEM)
class GpuArgumentPropertyTest(unittest.TestCase):
    """The same trials on CUDA tensors: the library's checks answer for what the binding leaves to
    it, a tensor on the CPU is refused by name, and calls that pass are checked."""

    def test_decodes(self):
        for k, case in enumerate(_decode_cases(self, "cuda")):
            outcomes = _run_trials(self, case, GPU_TRIALS, 3000 + k, on_gpu=True)
            self.assertGreater(outcomes["passed"], 0, f"{case.name}: {outcomes}")
        torch.cuda.synchronize()

    def test_schedule_cache_writes_and_the_schedule_object(self):
        for k, case in enumerate(_other_cases(self, "cuda")):
            outcomes = _run_trials(self, case, GPU_TRIALS, 4000 + k, on_gpu=True)
            self.assertGreater(outcomes["passed"], 0, f"{case.name}: {outcomes}")
        torch.cuda.synchronize()


# ------------------------------------------------------------------------------------ operators


def _operator_cases(test):
    """The torch operators on meta tensors (their fake implementations). Their schemas refuse
    arguments of another type before any Python runs (torch's own error), so only values of the
    schema's types are drawn here."""
    import wrong_values as wv

    ops = torch.ops.flash_mla_ts
    meta = dict(device="meta")
    bf16, i32, f32 = torch.bfloat16, {torch.int32}, {torch.float32}
    q = torch.empty(3, 2, 16, 576, dtype=bf16, **meta)
    cache = torch.empty(10, 64, 1, 576, dtype=bf16, **meta)
    table = torch.empty(3, 4, dtype=torch.int32, **meta)
    lens = torch.empty(3, dtype=torch.int32, **meta)
    sched = torch.empty(5, 8, dtype=torch.int32, **meta)
    splits = torch.empty(4, dtype=torch.int32, **meta)
    out = torch.empty(3, 2, 16, 512, dtype=bf16, **meta)
    lse = torch.empty(3, 16, 2, dtype=torch.float32, **meta)
    gq = torch.empty(3, 1, 8, 128, dtype=bf16, **meta)
    gcache = torch.empty(10, 16, 2, 128, dtype=bf16, **meta)

    def tensor(allowed, **options):
        return wv.TensorArg(allowed, operator=True, **options)

    decode = dict(q=tensor({bf16, torch.float16}), k_cache=tensor({bf16}),
                  block_table=tensor(i32), cache_seqlens=tensor(i32),
                  tile_scheduler_metadata=tensor(i32, contiguous=True),
                  num_splits=tensor(i32, contiguous=True),
                  softmax_scale=wv.ScaleArg(operator=True))

    def returns_outputs(arguments, result):
        test.assertEqual(len(result), 2)

    def returns_nothing(arguments, result):
        test.assertIsNone(result)

    mla = dict(q=q, k_cache=cache, block_table=table, cache_seqlens=lens, head_dim_v=512,
               tile_scheduler_metadata=sched, num_splits=splits, softmax_scale=0.1, causal=True)
    gqa = dict(q=gq, k_cache=gcache, v_cache=gcache, block_table=table, cache_seqlens=lens,
               tile_scheduler_metadata=sched, num_splits=splits, softmax_scale=0.1, causal=False)
    with_outputs = dict(out=tensor({bf16}), lse=tensor(f32))
    head_dim_v = dict(head_dim_v=wv.IntArg(1, 576, operator=True))
    return [
        Case("mla_decode", ops.mla_decode, lambda: dict(mla), {**decode, **head_dim_v},
             returns_outputs),
        Case("mla_decode_out", ops.mla_decode_out, lambda: dict(mla, out=out, lse=lse),
             {**decode, **head_dim_v, **with_outputs}, returns_nothing),
        Case("gqa_decode", ops.gqa_decode, lambda: dict(gqa),
             {**decode, "v_cache": tensor({bf16})}, returns_outputs),
        Case("write_kv", ops.write_kv,
             lambda: dict(cache=cache, rows=torch.empty(5, 1, 576, dtype=bf16, **meta),
                          slot_mapping=torch.empty(5, dtype=torch.int32, **meta)),
             dict(cache=tensor(_cache_dtypes()), rows=tensor({bf16}),
                  slot_mapping=tensor(i32)),
             returns_nothing),
        Case("get_mla_metadata", ops.get_mla_metadata,
             lambda: dict(cache_seqlens=lens, num_q_tokens_per_head_k=128, num_heads_k=1,
                          num_sms=132),
             dict(cache_seqlens=tensor(i32), num_q_tokens_per_head_k=wv.IntArg(
                 1, INT32_MAX, operator=True), num_heads_k=wv.IntArg(1, INT32_MAX, operator=True),
                  num_sms=wv.IntArg(1, 4096, operator=True)),
             returns_outputs),
    ]


@unittest.skipIf(OPS_PROBLEM or LIBRARY_PROBLEM, OPS_PROBLEM or LIBRARY_PROBLEM)
class OperatorPropertyTest(unittest.TestCase):
    """torch.ops.flash_mla_ts.* refuse what the public functions refuse (meta tensors, so that no
    GPU is needed; under inference_mode: older torch has no autograd fallback for meta tensors)."""

    def test_operators(self):
        with torch.inference_mode():
            for k, case in enumerate(_operator_cases(self)):
                outcomes = _run_trials(self, case, TRIALS, 5000 + k, on_gpu=False)
                self.assertGreater(outcomes["passed"], 0, f"{case.name}: {outcomes}")


if __name__ == "__main__":
    unittest.main()
