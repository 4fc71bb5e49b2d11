"""The attention operations on torch CUDA tensors, with both of FlashMLA's calling conventions.

The schedule object (FlashMLA since 2026-01):

    sched, _ = get_mla_metadata()
    out, lse = flash_mla_with_kvcache(q, k_cache, block_table, cache_seqlens, 512, sched, None,
                                      causal=True)

The schedule tensors (FlashMLA 2025, vLLM's and SGLang's tensor path):

    tile_scheduler_metadata, num_splits = get_mla_metadata(cache_seqlens, s_q * h_q // h_kv, h_kv)
    out, lse = flash_mla_with_kvcache(q, k_cache, block_table, cache_seqlens, 512,
                                      tile_scheduler_metadata, num_splits, causal=True)

Each function checks its arguments (ArgumentError naming the argument, the expected and the
actual value), allocates its outputs and the workspace with torch on the inputs' device, and
enqueues the library's kernels on torch's current stream of that device: like any torch operation
it is asynchronous and ordered with the torch work around it, and it may be captured in a CUDA
graph (pass `out` / `lse` to capture with buffers you own). It runs on the inputs' device whatever
the current device is, and leaves the current device as it found it. The schedule depends only on
the sequence lengths (and shapes), so one schedule serves every layer of a decode step. Under
torch.compile the functions trace as the operators of _ops.py.

Keywords of FlashMLA, vLLM and SGLang for features this library does not have (sparse attention,
attention sinks, FP8 queries) are accepted at their defaults; any other value raises
NotImplementedError naming the argument. FP8 caches (is_fp8_kvcache=True, descale_k) are decoded
(docs/fp8-kv-cache.md).
"""

import ctypes

from . import _fast, _library, _ops
from . import _torch_tensors as _tt
from ._torch_tensors import (
    CACHE_DTYPES,
    CACHE_LAYOUT,
    FLOAT32,
    FP8,
    HALF,
    INT32,
    LSE_LAYOUT,
    METADATA_INTS,
    METADATA_LAYOUT,
    OUT_LAYOUT,
    Q_LAYOUT,
    ROWS_LAYOUT,
    SAME,
    SEQLENS_LAYOUT,
    SLOTS_LAYOUT,
    SPLITS_LAYOUT,
    TABLE_LAYOUT,
    TENSOR_BYTES,
    cuda_device_index,
    current_stream,
    import_torch,
    invoke,
    pack,
    pack_new,
    pack_scale,
    require_flag,
    require_int,
    require_num_sms,
    require_rank,
    require_same_cuda_device,
    softmax_scale_value,
)
from .errors import ArgumentError, describe_value
from .schedule import FlashMLASchedMeta, ScheduleConfig, raise_mismatch

__all__ = [
    "FlashMLASchedMeta",
    "get_mla_metadata",
    "flash_mla_with_kvcache",
    "gqa_decode_with_kvcache",
    "write_kv",
    "mla_num_sm_parts",
    "flash_mla_sparse_fwd",
    "flash_attn_varlen_func",
    "flash_attn_varlen_qkvpacked_func",
    "flash_attn_varlen_kvpacked_func",
]

_torch = _tt._torch
_Tensor = _tt._Tensor
_CallBlock = _library.CallBlock
_addressof = ctypes.addressof
_TB = TENSOR_BYTES
_INT32_CODE = 4
_FLOAT32_CODE = 0
_float32 = _torch.float32 if _torch is not None else None
_uint8 = _torch.uint8 if _torch is not None else None
_bfloat16 = _torch.bfloat16 if _torch is not None else None
_e4m3 = getattr(_torch, "float8_e4m3fn", None) if _torch is not None else None

_HEAD_DIM_V_BOUND = "at most d_qk, q.shape[3]"
# Statuses of the library that a refused argument gives: the checked path then finds and names it.
_ARGUMENT_STATUSES = (1, 5)  # FMLA_ERROR_INVALID_ARGUMENT, FMLA_ERROR_UNSUPPORTED
_MLA = "fmla_mla_decode"
_GQA = "fmla_gqa_decode"
_GQA_E4M3 = "fmla_gqa_decode_e4m3"
_SCALE_SLOT = 9  # the call block's slots of descale_k and descale_v (after out and lse)
_Q_SCALE_SLOT = 11  # and of descale_q
_MLA_NAMES = ("q", "k_cache", "block_table", "cache_seqlens", "tile_scheduler_metadata",
              "num_splits")
_GQA_NAMES = ("q", "k_cache", "v_cache", "block_table", "cache_seqlens",
              "tile_scheduler_metadata", "num_splits")


def _no_compile():
    return False


_compiling = _no_compile
if _torch is not None:
    _compiling = getattr(getattr(_torch, "compiler", None), "is_compiling", None)
    if _compiling is None:
        try:
            from torch._dynamo import is_compiling as _compiling
        except Exception:
            _compiling = _no_compile


def _traced(tensor):
    """Whether to go through the torch operators: under torch.compile, or when a tensor subclass
    (FakeTensor, FunctionalTensor, ... of make_fx and export) is passed outside Dynamo."""
    return _ops.available and (
        _compiling() or (type(tensor) is not _Tensor and isinstance(tensor, _Tensor))
    )


# ------------------------------------------------------------------------------------ schedule


def mla_num_sm_parts(num_sms, num_q_tokens_per_head_k, num_heads_k):
    """How many parts the schedule cuts the work into (docs/schedule.md); needs no GPU."""
    num_sms = require_num_sms(num_sms)
    q_tokens, h_kv, _ = _schedule_sizes(num_q_tokens_per_head_k, num_heads_k, None)
    return _library.load().fmla_mla_num_sm_parts(num_sms, q_tokens, h_kv)


def _schedule_sizes(q_tokens, h_kv, num_sms):
    """The sizes a schedule is computed from, checked (the library takes them as int32)."""
    q_tokens = require_int("num_q_tokens_per_head_k", q_tokens, 1)
    h_kv = require_int("num_heads_k", h_kv, 1)
    return q_tokens, h_kv, None if num_sms is None else require_num_sms(num_sms)


def get_mla_metadata(cache_seqlens=None, num_q_tokens_per_head_k=None, num_heads_k=None,
                     num_heads_q=None, is_fp8_kvcache=False, topk=None, *, num_sms=None):
    """The split-KV schedule, in either of FlashMLA's conventions.

    get_mla_metadata() -> (FlashMLASchedMeta(), None): an empty schedule object that the first
    flash_mla_with_kvcache call using it fills (FlashMLA's current convention; schedule.py).

    get_mla_metadata(cache_seqlens, num_q_tokens_per_head_k, num_heads_k) ->
    (tile_scheduler_metadata int32 [num_sm_parts, 8], num_splits int32 [b + 1]), computed on the
    device now (no host round trip). cache_seqlens: int32 [b] CUDA tensor;
    num_q_tokens_per_head_k: s_q * h_q // h_kv; num_heads_k: h_kv. num_heads_q and is_fp8_kvcache
    are accepted and not needed (the schedule does not depend on the cache's format); topk (sparse
    attention) raises NotImplementedError.

    num_sms (both conventions) replaces the device's SM count.
    """
    if is_fp8_kvcache is not False:
        require_flag("is_fp8_kvcache", is_fp8_kvcache)
    if topk is not None:
        _refuse("topk", topk)
    if num_heads_q is not None:
        require_int("num_heads_q", num_heads_q, 1)
    if cache_seqlens is None:
        # FlashMLA's current convention ignores the 2025 arguments; those given are still checked.
        if num_q_tokens_per_head_k is not None:
            require_int("num_q_tokens_per_head_k", num_q_tokens_per_head_k, 1)
        if num_heads_k is not None:
            require_int("num_heads_k", num_heads_k, 1)
        return FlashMLASchedMeta(num_sms=num_sms), None
    q_tokens, h_kv, num_sms = _schedule_sizes(num_q_tokens_per_head_k, num_heads_k, num_sms)
    return _metadata(cache_seqlens, q_tokens, h_kv, num_sms)


def _metadata(cache_seqlens, q_tokens, h_kv, num_sms):
    if _traced(cache_seqlens):
        return _ops.get_mla_metadata(cache_seqlens, q_tokens, h_kv, num_sms)
    return _metadata_eager(cache_seqlens, q_tokens, h_kv, num_sms)


def _metadata_eager(cache_seqlens, q_tokens, h_kv, num_sms):
    import_torch()
    q_tokens, h_kv, num_sms = _schedule_sizes(q_tokens, h_kv, num_sms)  # for the operator's callers
    block = _CallBlock()
    b = pack(block, 0, "cache_seqlens", cache_seqlens, INT32, SEQLENS_LAYOUT)[0]
    device = cuda_device_index(("cache_seqlens",), (cache_seqlens,))
    if num_sms is None:
        num_sms = _tt.sm_count(device)
    parts = _tt.num_sm_parts(num_sms, q_tokens, h_kv)
    metadata = cache_seqlens.new_empty((parts, METADATA_INTS))
    num_splits = cache_seqlens.new_empty((b + 1,))
    pack_new(block, 1, metadata, _INT32_CODE, (parts, METADATA_INTS), (METADATA_INTS, 1))
    pack_new(block, 2, num_splits, _INT32_CODE, (b + 1,), (1,))
    base = _addressof(block)
    invoke("fmla_get_mla_metadata", block, base, device,
           (base, q_tokens, h_kv, base + _TB, base + 2 * _TB, current_stream(device)))
    # Callers written for FlashMLA's current API keep only the first value and pass
    # num_splits=None: the metadata tensor carries its num_splits for them.
    metadata._fmla_num_splits = num_splits
    return metadata, num_splits


def _metadata_fake(cache_seqlens, q_tokens, h_kv, num_sms):
    q_tokens, h_kv, num_sms = _schedule_sizes(q_tokens, h_kv, num_sms)
    shape = pack(None, 0, "cache_seqlens", cache_seqlens, INT32, SEQLENS_LAYOUT)
    device = require_same_cuda_device([("cache_seqlens", cache_seqlens)], allow_meta=True)
    if num_sms is None:  # meta tensors (device None) stand for the current device
        index = device.index if device is not None else None
        num_sms = _tt.sm_count(_torch.cuda.current_device() if index is None else index)
    parts = _tt.num_sm_parts(num_sms, q_tokens, h_kv)
    return (cache_seqlens.new_empty((parts, METADATA_INTS)),
            cache_seqlens.new_empty((shape[0] + 1,)))


# ------------------------------------------------------------------------------------ decode

# argument: (the kind of value it takes, what a value other than the default asks for, the
# default), for the keywords of FlashMLA, vLLM and SGLang whose features this library lacks. Only
# the default is accepted.
_UNSUPPORTED = {
    "is_fp8_kvcache": ("flag", "an FP8 KV cache", False),
    "indices": ("tensor", "sparse attention (top-k indices into the cache)", None),
    "attn_sink": ("tensor", "attention sinks", None),
    "extra_k_cache": ("tensor", "an extra sparse KV cache", None),
    "extra_indices_in_kvcache": ("tensor", "sparse attention over an extra KV cache", None),
    "topk_length": ("tensor", "sparse attention (per-query top-k lengths)", None),
    "extra_topk_length": ("tensor", "sparse attention over an extra KV cache", None),
    "descale_k": ("tensor", "FP8 descaling of the KV cache (FP8 attention)", None),
    "topk": ("int", "sparse attention (a top-k schedule)", None),
}


def _refuse(name, value):
    """A value other than the default: ArgumentError where it is not even of the argument's kind,
    else NotImplementedError naming the feature. A flag given as 0 stands for False and passes."""
    kind, feature, default = _UNSUPPORTED[name]
    if kind == "flag":
        if not require_flag(name, value):
            return
    elif kind == "int":
        require_int(name, value, 1)
    elif _torch is not None and not isinstance(value, _Tensor):
        # (without torch no tensor can be passed, and any value is refused as the feature)
        raise ArgumentError(name, "a torch.Tensor or None", describe_value(value))
    if isinstance(value, _Tensor):
        given = f"{name} (a tensor of shape {tuple(value.shape)})"
    else:
        given = f"{name}={value!r}"
    raise NotImplementedError(
        f"{given} asks for {feature}, which flash_mla_ts does not implement; only "
        f"{name}={default!r} is accepted"
    )


def _refuse_first(indices, attn_sink, extra_k_cache, extra_indices_in_kvcache, topk_length,
                  extra_topk_length):
    for name, value in (("indices", indices), ("attn_sink", attn_sink),
                        ("extra_k_cache", extra_k_cache),
                        ("extra_indices_in_kvcache", extra_indices_in_kvcache),
                        ("topk_length", topk_length), ("extra_topk_length", extra_topk_length)):
        if value is not None:
            _refuse(name, value)


def _mla_cache_format(is_fp8_kvcache, descale_k, descale_q):
    """The MLA cache's format code: 0 (q's dtype), fp8_ds_mla (is_fp8_kvcache) or fp8_e4m3
    (descale_k), never both; descale_q (float8_e4m3fn queries) with fp8_e4m3 only."""
    ds_mla = is_fp8_kvcache is not False and require_flag("is_fp8_kvcache", is_fp8_kvcache)
    if descale_k is not None:
        pack_scale(None, 0, "descale_k", descale_k)
    if ds_mla and descale_k is not None:
        raise ArgumentError("descale_k", "None with is_fp8_kvcache=True (the fp8_ds_mla tokens carry "
                            "their scales)", describe_value(descale_k))
    if descale_q is not None:
        pack_scale(None, 0, "descale_q", descale_q)
        if descale_k is None:
            raise _descale_q_without_fp8_e4m3(descale_q)
    return _FP8_DS_MLA if ds_mla else _FP8_E4M3 if descale_k is not None else 0


def _descale_q_without_fp8_e4m3(descale_q):
    return ArgumentError("descale_q", "None unless the cache is fp8_e4m3 (its descales given): "
                         "float8_e4m3fn queries go with an fp8_e4m3 cache",
                         describe_value(descale_q))


def flash_mla_with_kvcache(q, k_cache, block_table, cache_seqlens, head_dim_v,
                           tile_scheduler_metadata, num_splits=None, softmax_scale=None,
                           causal=False, is_fp8_kvcache=False, indices=None, attn_sink=None,
                           extra_k_cache=None, extra_indices_in_kvcache=None, topk_length=None,
                           extra_topk_length=None, *, descale_q=None, descale_k=None, out=None,
                           lse=None):
    """MLA decode over a paged latent cache (values are the first head_dim_v entries of each row).

    q [b, s_q, h_q, 576] bf16/fp16; k_cache [num_pages, page_size, h_kv, 576] (q's dtype, any page
    size); block_table int32 [b, max_pages]; cache_seqlens int32 [b]; head_dim_v 512.
    The schedule: a FlashMLASchedMeta from get_mla_metadata() with num_splits None (built by the
    first call, reused and checked by the others), or the two tensors of
    get_mla_metadata(cache_seqlens, s_q * h_q // h_kv, h_kv). softmax_scale defaults to
    1/sqrt(576); with causal, query j of s_q attends keys t <= L - s_q + j.
    FP8 caches (docs/fp8-kv-cache.md): is_fp8_kvcache=True for FlashMLA's fp8_ds_mla layout
    (k_cache float8_e4m3fn [num_pages, page_size, 1, 656], q bf16), or descale_k, a float32 tensor
    of one element on the cache's device, for fp8_e4m3 (k_cache float8_e4m3fn
    [num_pages, page_size, 1, 576], values e4m3 * descale_k; q bf16 or fp16, or q float8_e4m3fn
    with descale_q, its float32 scale of one element: queries e4m3 * descale_q, out bf16).
    indices, attn_sink, extra_k_cache, extra_indices_in_kvcache, topk_length, extra_topk_length:
    accepted at their defaults only (NotImplementedError).
    out, lse: preallocated outputs (this library's extension).
    Returns (out [b, s_q, h_q, head_dim_v] in q's dtype (bf16 for float8_e4m3fn q), softmax_lse
    float32 [b, h_q, s_q]).
    """
    if (indices is not None or attn_sink is not None or extra_k_cache is not None
            or extra_indices_in_kvcache is not None or topk_length is not None
            or extra_topk_length is not None):
        _refuse_first(indices, attn_sink, extra_k_cache, extra_indices_in_kvcache, topk_length,
                      extra_topk_length)
    if causal is not False and causal is not True:
        causal = require_flag("causal", causal)
    if is_fp8_kvcache is not False or descale_k is not None or descale_q is not None:
        fmt = _mla_cache_format(is_fp8_kvcache, descale_k, descale_q)
        if fmt:
            return _mla_decode_fp8(q, k_cache, block_table, cache_seqlens, head_dim_v,
                                   tile_scheduler_metadata, num_splits, softmax_scale, causal,
                                   fmt, descale_k, out, lse, descale_q)
    if isinstance(tile_scheduler_metadata, FlashMLASchedMeta):
        return _decode_scheduled(_MLA, tile_scheduler_metadata, num_splits, q, k_cache, None,
                                 block_table, cache_seqlens, head_dim_v, softmax_scale, causal,
                                 out, lse)
    num_splits = _require_splits(tile_scheduler_metadata, num_splits)
    return _decode(_MLA, q, k_cache, None, block_table, cache_seqlens, head_dim_v,
                   tile_scheduler_metadata, num_splits, softmax_scale, causal, out, lse)


def _mla_decode_fp8(q, k_cache, block_table, cache_seqlens, head_dim_v, tile_scheduler_metadata,
                    num_splits, softmax_scale, causal, fmt, descale_k, out, lse, descale_q=None):
    """flash_mla_with_kvcache over an FP8 cache (fmla_mla_decode_fp8): a schedule object built on
    its first use and checked on the others, then the call, eager or through the operators."""
    sched = None
    if isinstance(tile_scheduler_metadata, FlashMLASchedMeta):
        sched = tile_scheduler_metadata
        if num_splits is not None:
            raise ArgumentError("num_splits",
                                "None with a FlashMLASchedMeta (it holds its own num_splits)",
                                describe_value(num_splits))
        import_torch()
        b, s_q, h_q, _ = require_rank("q", q, Q_LAYOUT)
        _, page_size, h_kv, _ = require_rank("k_cache", k_cache, CACHE_LAYOUT)
        config = ScheduleConfig(b, s_q, h_q, page_size, h_kv, causal, True, None, None, None)
        if sched.have_initialized:
            if sched.config != config:
                raise_mismatch(sched.config, config)
            metadata, num_splits = sched.tile_scheduler_metadata, sched.num_splits
        else:
            if h_kv < 1 or h_q % h_kv != 0:
                raise ArgumentError("q", f"h_q to be a multiple of h_kv = {h_kv} (k_cache "
                                    "shape[2])", f"h_q = {h_q}")
            if not _traced(q):  # every check before the schedule is computed
                _check_mla_fp8(None, q, k_cache, block_table, cache_seqlens, head_dim_v, None,
                               None, softmax_scale, fmt, descale_k, out, lse, allow_meta=False,
                               descale_q=descale_q)
            metadata, num_splits = _metadata(cache_seqlens, s_q * (h_q // h_kv), h_kv,
                                             sched.num_sms)
    else:
        metadata = tile_scheduler_metadata
        num_splits = _require_splits(tile_scheduler_metadata, num_splits)
    if _traced(q):
        result = _mla_decode_fp8_traced(q, k_cache, block_table, cache_seqlens, head_dim_v,
                                        metadata, num_splits, softmax_scale, causal, fmt,
                                        descale_k, out, lse, descale_q)
    else:
        result = _mla_decode_fp8_eager(q, k_cache, block_table, cache_seqlens, head_dim_v,
                                       metadata, num_splits, softmax_scale, causal, fmt,
                                       descale_k, out, lse, descale_q)
    if sched is not None and not sched.have_initialized:
        sched.tile_scheduler_metadata, sched.num_splits = metadata, num_splits
        sched.config = config
        sched.have_initialized = True
    return result


def _check_mla_fp8(block, q, k_cache, block_table, cache_seqlens, head_dim_v, metadata,
                   num_splits, softmax_scale, fmt, descale_k, out, lse, allow_meta, descale_q=None):
    """The checks of an MLA decode over an FP8 cache, each argument packed into `block` (None:
    checked only; metadata and num_splits None: a schedule not built yet). Returns (b, s_q, h_q,
    head_dim_v, num_sm_parts, softmax scale, device); device None with allow_meta (the fakes)."""
    if descale_q is not None and fmt != _FP8_E4M3:
        raise _descale_q_without_fp8_e4m3(descale_q)
    q_dtypes, out_same = _query_dtypes(q, descale_q, fmt == _FP8_E4M3)
    if fmt not in (_FP8_DS_MLA, _FP8_E4M3):
        raise ArgumentError("format", f"{_FP8_DS_MLA} (fp8_ds_mla) or {_FP8_E4M3} (fp8_e4m3)",
                            describe_value(fmt))
    if fmt == _FP8_DS_MLA and descale_k is not None:
        raise ArgumentError("descale_k", "None with is_fp8_kvcache=True (the fp8_ds_mla tokens carry "
                            "their scales)", describe_value(descale_k))
    b, s_q, h_q, d_qk = pack(block, 0, "q", q, q_dtypes, Q_LAYOUT)
    pack(block, 1, "k_cache", k_cache, FP8, CACHE_LAYOUT)
    pack(block, 2, "block_table", block_table, INT32, TABLE_LAYOUT)
    pack(block, 3, "cache_seqlens", cache_seqlens, INT32, SEQLENS_LAYOUT)
    named = [("q", q), ("k_cache", k_cache), ("block_table", block_table),
             ("cache_seqlens", cache_seqlens)]
    if fmt == _FP8_E4M3:
        pack_scale(block, _SCALE_SLOT, "descale_k", descale_k)
        named.append(("descale_k", descale_k))
    if descale_q is not None:
        pack_scale(block, _Q_SCALE_SLOT, "descale_q", descale_q)
        named.append(("descale_q", descale_q))
    parts = _pack_schedule_and_outputs(block, 4, metadata, num_splits, out, lse,
                                       out_same or SAME[q.dtype], named)
    head_dim_v = _require_head_dim_v(head_dim_v, d_qk)
    scale = softmax_scale_value(softmax_scale, d_qk)
    if allow_meta:
        require_same_cuda_device(named, allow_meta=True)
        return b, s_q, h_q, head_dim_v, parts, scale, None
    names, tensors = zip(*named)
    return b, s_q, h_q, head_dim_v, parts, scale, cuda_device_index(names, tensors)


def _mla_decode_fp8_eager(q, k_cache, block_table, cache_seqlens, head_dim_v, metadata,
                          num_splits, softmax_scale, causal, fmt, descale_k, out, lse,
                          descale_q=None):
    import_torch()
    block = _CallBlock()
    b, s_q, h_q, head_dim_v, parts, scale, device = _check_mla_fp8(
        block, q, k_cache, block_table, cache_seqlens, head_dim_v, metadata, num_splits,
        softmax_scale, fmt, descale_k, out, lse, allow_meta=False, descale_q=descale_q)
    if out is None:
        out_dtype = _out_dtype(q, descale_q)
        out = q.new_empty((b, s_q, h_q, head_dim_v), dtype=out_dtype)
        row = h_q * head_dim_v
        pack_new(block, 6, out, SAME[out_dtype][out_dtype], (b, s_q, h_q, head_dim_v),
                 (s_q * row, row, head_dim_v, 1))
    if lse is None:
        lse = q.new_empty((b, h_q, s_q), dtype=_float32)
        pack_new(block, 7, lse, _FLOAT32_CODE, (b, h_q, s_q), (h_q * s_q, s_q, 1))
    size = _tt.workspace_bytes(b, s_q, h_q, head_dim_v, parts)
    workspace = q.new_empty((max(size, 1),), dtype=_uint8)
    v = _addressof(block)
    invoke("fmla_mla_decode_fp8", block, v, device,
           (v, v + _TB, v + 2 * _TB, v + 3 * _TB, head_dim_v, v + 4 * _TB, v + 5 * _TB, scale,
            1 if causal else 0, fmt, None if descale_q is None else v + _Q_SCALE_SLOT * _TB,
            v + _SCALE_SLOT * _TB if fmt == _FP8_E4M3 else None,
            v + 6 * _TB, v + 7 * _TB, workspace.data_ptr(), size, current_stream(device)))
    return out, lse


def _mla_decode_fp8_traced(q, k_cache, block_table, cache_seqlens, head_dim_v, metadata,
                           num_splits, softmax_scale, causal, fmt, descale_k, out, lse,
                           descale_q=None):
    """Under torch.compile: the same call through the torch operators (traceable Python only)."""
    b, s_q, h_q, d_qk = require_rank("q", q, Q_LAYOUT)
    head_dim_v = _require_head_dim_v(head_dim_v, d_qk)
    args = (q, k_cache, block_table, cache_seqlens, head_dim_v, metadata, num_splits,
            softmax_scale_value(softmax_scale, d_qk), bool(causal), fmt, descale_k, descale_q)
    if out is None and lse is None:
        return _ops.mla_decode_fp8(*args)
    if out is None:
        out = q.new_empty((b, s_q, h_q, head_dim_v), dtype=_out_dtype(q, descale_q))
    if lse is None:
        lse = q.new_empty((b, h_q, s_q), dtype=_float32)
    _ops.mla_decode_fp8_out(*args, out, lse)
    return out, lse


def gqa_decode_with_kvcache(q, k_cache, v_cache, block_table, cache_seqlens,
                            tile_scheduler_metadata, num_splits=None, softmax_scale=None,
                            causal=False, *, descale_q=None, descale_k=None, descale_v=None,
                            out=None, lse=None):
    """GQA / MHA / MQA decode with separate paged K and V caches of head dim d in {64, 128, 256}.

    q [b, s_q, h_q, d]; k_cache, v_cache [num_pages, page_size, h_kv, d] (q's dtype, any page size);
    the schedule as for flash_mla_with_kvcache (a FlashMLASchedMeta, or the tensors of
    get_mla_metadata(cache_seqlens, s_q * h_q // h_kv, h_kv)).
    fp8_e4m3 caches (docs/fp8-kv-cache.md): k_cache and v_cache float8_e4m3fn, with descale_k and
    descale_v float32 tensors of one element on their device (keys e4m3(k) * descale_k, values
    e4m3(v) * descale_v). Over them q may be float8_e4m3fn too, with descale_q (queries
    e4m3(q) * descale_q; out bf16).
    Returns (out [b, s_q, h_q, d] in q's dtype (bf16 for float8_e4m3fn q), lse float32
    [b, h_q, s_q]).
    The call may count the pieces of the sequences the schedule cut in the schedule's spare words,
    which it returns to zero (docs/schedule.md says when): one schedule must not serve two of
    these calls running at the same time on different streams.
    """
    if v_cache is None:  # (None stands for "no V cache", i.e. MLA, further down)
        raise ArgumentError("v_cache", "a torch.Tensor", "None")
    if causal is not False and causal is not True:
        causal = require_flag("causal", causal)
    scales = None
    if descale_k is not None or descale_v is not None or descale_q is not None:
        scales = _check_scales(descale_k, descale_v, descale_q)
    if isinstance(tile_scheduler_metadata, FlashMLASchedMeta):
        return _decode_scheduled(_GQA, tile_scheduler_metadata, num_splits, q, k_cache, v_cache,
                                 block_table, cache_seqlens, None, softmax_scale, causal, out, lse,
                                 scales)
    num_splits = _require_splits(tile_scheduler_metadata, num_splits)
    return _decode(_GQA, q, k_cache, v_cache, block_table, cache_seqlens, None,
                   tile_scheduler_metadata, num_splits, softmax_scale, causal, out, lse, scales)


def _check_scales(descale_k, descale_v, descale_q=None):
    """(descale_k, descale_v, descale_q): float32 tensors of one element, descale_q None with
    16-bit queries."""
    if descale_q is not None:
        pack_scale(None, 0, "descale_q", descale_q)
        if descale_k is None and descale_v is None:
            raise _descale_q_without_fp8_e4m3(descale_q)
    expected = "a float32 tensor of one element (with the other scale, for float8_e4m3fn caches)"
    return (pack_scale(None, 0, "descale_k", descale_k, expected),
            pack_scale(None, 0, "descale_v", descale_v, expected), descale_q)


def _query_scale(scales):
    """descale_q of a GQA call's scales (None: 16-bit caches, or bf16 / fp16 queries)."""
    return scales[2] if scales else None


def _out_dtype(q, descale_q):
    """out's dtype: q's, bf16 for float8_e4m3fn queries (descale_q given)."""
    return q.dtype if descale_q is None else _bfloat16


def _query_dtypes(q, descale_q, e4m3_cache):
    """The dtypes q may have ({dtype: code}) and out's table: 16-bit (out's None: q's dtype), or
    float8_e4m3fn with descale_q (out bf16). A float8_e4m3fn q over an fp8_e4m3 cache without
    descale_q is named as that argument."""
    if descale_q is not None:
        return FP8, SAME[_bfloat16]
    if e4m3_cache and isinstance(q, _Tensor) and _e4m3 is not None and q.dtype == _e4m3:
        raise ArgumentError("descale_q", "a float32 tensor of one element (q is float8_e4m3fn)",
                            "None")
    return HALF, None


def _require_splits(tile_scheduler_metadata, num_splits):
    """num_splits, or the one the metadata tensor carries from get_mla_metadata."""
    if num_splits is None:
        carried = getattr(tile_scheduler_metadata, "_fmla_num_splits", None)
        if carried is not None:
            return carried
        if isinstance(tile_scheduler_metadata, _Tensor):
            raise ArgumentError(
                "num_splits",
                "the num_splits tensor that get_mla_metadata(cache_seqlens, ...) returned with "
                "tile_scheduler_metadata (None only with the FlashMLASchedMeta of "
                "get_mla_metadata() called without arguments)",
                "None",
            )
        raise ArgumentError(
            "tile_scheduler_metadata",
            "a FlashMLASchedMeta (from get_mla_metadata()) or the tensor from "
            "get_mla_metadata(cache_seqlens, ...)",
            describe_value(tile_scheduler_metadata),
        )
    return num_splits


def _decode_scheduled(function, sched, num_splits, q, k_cache, v_cache, block_table,
                      cache_seqlens, head_dim_v, softmax_scale, causal, out, lse, scales=None):
    """The schedule-object convention: build the schedule on the first call, check and reuse it
    on the others (schedule.py). scales: (descale_k, descale_v) of fp8_e4m3 GQA caches, or None."""
    if (scales is None and num_splits is None and sched.have_initialized and type(q) is _Tensor
            and type(k_cache) is _Tensor and not _compiling()):
        # The reuse of a built schedule, once per layer and step: one comparison with what it
        # was built for (mismatches and everything else take the checks below).
        q_shape, k_shape = q.shape, k_cache.shape
        if len(q_shape) == 4 and len(k_shape) == 4 and sched.config == (
                q_shape[0], q_shape[1], q_shape[2], k_shape[1], k_shape[2], causal, False, None,
                None, None):
            return _decode_eager(function, q, k_cache, v_cache, block_table, cache_seqlens,
                                 head_dim_v, sched.tile_scheduler_metadata, sched.num_splits,
                                 softmax_scale, causal, out, lse)
    import_torch()
    if num_splits is not None:
        raise ArgumentError("num_splits",
                            "None with a FlashMLASchedMeta (it holds its own num_splits)",
                            describe_value(num_splits))
    q_shape = require_rank("q", q, Q_LAYOUT)
    k_shape = require_rank("k_cache", k_cache, CACHE_LAYOUT)
    b, s_q, h_q, page_size, h_kv = q_shape[0], q_shape[1], q_shape[2], k_shape[1], k_shape[2]
    if sched.have_initialized:
        # Field by field (not one tuple comparison): plain comparisons trace under torch.compile
        # in every version.
        built = sched.config
        if (built is None or built.b != b or built.s_q != s_q or built.h_q != h_q
                or built.page_block_size != page_size or built.h_k != h_kv
                or built.causal != causal or built.is_fp8_kvcache or built.topk is not None
                or built.extra_page_block_size is not None or built.extra_topk is not None):
            raise_mismatch(built, ScheduleConfig(b, s_q, h_q, page_size, h_kv, causal, False,
                                                 None, None, None))
        return _decode(function, q, k_cache, v_cache, block_table, cache_seqlens, head_dim_v,
                       sched.tile_scheduler_metadata, sched.num_splits, softmax_scale, causal,
                       out, lse, scales)
    metadata, splits = sched.tile_scheduler_metadata, sched.num_splits
    if (metadata is None) != (splits is None):
        raise ArgumentError(
            "tile_scheduler_metadata",
            "a FlashMLASchedMeta with both tile_scheduler_metadata and num_splits set, or neither",
            f"tile_scheduler_metadata {describe_value(metadata)} with num_splits "
            f"{describe_value(splits)}",
        )
    if metadata is None:  # the sizes the schedule is computed from (else the library checks)
        if s_q < 1 or h_q < 1:
            raise ArgumentError("q", "a non-empty [b, s_q, h_q, d_qk]", f"shape {tuple(q_shape)}")
        if h_kv < 1:
            raise ArgumentError("k_cache", "h_kv >= 1 in [num_pages, page_size, h_kv, d]",
                                f"shape {tuple(k_shape)}")
        if h_q % h_kv != 0:
            raise ArgumentError("q", f"h_q to be a multiple of h_kv = {h_kv} (k_cache shape[2])",
                                f"h_q = {h_q}")
    if not _traced(q):
        # All of the call's checks before the schedule is computed, so that a bad argument is
        # found before anything runs (under torch.compile the fake implementations check).
        _check_decode(q, k_cache, v_cache, block_table, cache_seqlens, head_dim_v, softmax_scale,
                      metadata, splits, out, lse, allow_meta=False, scales=scales)
    if metadata is None:
        metadata, splits = _metadata(cache_seqlens, s_q * (h_q // h_kv), h_kv, sched.num_sms)
    result = _decode(function, q, k_cache, v_cache, block_table, cache_seqlens, head_dim_v,
                     metadata, splits, softmax_scale, causal, out, lse, scales)
    # Recorded after a successful call only: a call that raised leaves the object reusable.
    sched.tile_scheduler_metadata = metadata
    sched.num_splits = splits
    sched.config = ScheduleConfig(b, s_q, h_q, page_size, h_kv, causal, False, None, None, None)
    sched.have_initialized = True
    return result


def _decode(function, q, k_cache, v_cache, block_table, cache_seqlens, head_dim_v, metadata,
            num_splits, softmax_scale, causal, out, lse, scales=None):
    if _traced(q):
        return _decode_traced(function, q, k_cache, v_cache, block_table, cache_seqlens,
                              head_dim_v, metadata, num_splits, softmax_scale, causal, out, lse,
                              scales)
    return _decode_eager(function, q, k_cache, v_cache, block_table, cache_seqlens, head_dim_v,
                         metadata, num_splits, softmax_scale, causal, out, lse, scales)


def _decode_eager(function, q, k_cache, v_cache, block_table, cache_seqlens, head_dim_v,
                  metadata, num_splits, softmax_scale, causal, out, lse, scales=None):
    """The shared body of the MLA and GQA decodes: v_cache is None for MLA, head_dim_v None for GQA
    (whose values have q's head dim); scales (descale_k, descale_v) for fp8_e4m3 GQA caches. Every
    tensor is checked and packed into one buffer of fmla_tensor views; the devices are checked once
    all of them passed. The C++ call (_fast.py) goes first for 16-bit caches: it takes the valid
    calls and leaves the others to the checks here."""
    if scales is None:
        result = _fast.decode(v_cache is None, q, k_cache, v_cache, block_table, cache_seqlens,
                              head_dim_v, metadata, num_splits, softmax_scale, causal, out, lse)
        if result is not None:
            if type(result) is tuple:
                return result
            if result not in _ARGUMENT_STATUSES:  # a failure of the device, not of the arguments
                _library.check(function, result)
    import_torch()
    block = _CallBlock()
    descale_q = _query_scale(scales)
    q_dtypes, out_same = _query_dtypes(q, descale_q, scales is not None)
    b, s_q, h_q, d_qk = pack(block, 0, "q", q, q_dtypes, Q_LAYOUT)
    same = out_same or SAME[q.dtype]
    cache_dtypes = SAME[q.dtype] if scales is None else FP8
    pack(block, 1, "k_cache", k_cache, cache_dtypes, CACHE_LAYOUT)
    if v_cache is None:
        slot = 2
        names, tensors = _MLA_NAMES, (q, k_cache, block_table, cache_seqlens, metadata, num_splits)
    else:
        pack(block, 2, "v_cache", v_cache, cache_dtypes, CACHE_LAYOUT)
        slot = 3
        names = _GQA_NAMES
        tensors = (q, k_cache, v_cache, block_table, cache_seqlens, metadata, num_splits)
        if scales is not None:
            for i, (name, scale_tensor) in enumerate(zip(("descale_k", "descale_v"), scales)):
                pack_scale(block, _SCALE_SLOT + i, name, scale_tensor)
            names = names + ("descale_k", "descale_v")
            tensors = tensors + scales[:2]
            if descale_q is not None:
                pack_scale(block, _Q_SCALE_SLOT, "descale_q", descale_q)
                names, tensors = names + ("descale_q",), tensors + (descale_q,)
    pack(block, slot, "block_table", block_table, INT32, TABLE_LAYOUT)
    pack(block, slot + 1, "cache_seqlens", cache_seqlens, INT32, SEQLENS_LAYOUT)
    parts = pack(block, slot + 2, "tile_scheduler_metadata", metadata, INT32, METADATA_LAYOUT,
                 contiguous=True)[0]
    pack(block, slot + 3, "num_splits", num_splits, INT32, SPLITS_LAYOUT, contiguous=True)
    if out is not None:
        pack(block, slot + 4, "out", out, same, OUT_LAYOUT)
    if lse is not None:
        pack(block, slot + 5, "lse", lse, FLOAT32, LSE_LAYOUT)
    if v_cache is None:  # inline: this is the per-call path
        head_dim_v = require_int("head_dim_v", head_dim_v, 1, d_qk, _HEAD_DIM_V_BOUND)
    else:
        head_dim_v = d_qk
    scale = softmax_scale_value(softmax_scale, d_qk)
    device = cuda_device_index(names, tensors)
    if (out is not None and out.get_device() != device) or (
            lse is not None and lse.get_device() != device):
        named = list(zip(names, tensors)) + [(n, t) for n, t in (("out", out), ("lse", lse))
                                             if t is not None]
        require_same_cuda_device(named)

    if out is None:
        out_dtype = _out_dtype(q, descale_q)
        out = q.new_empty((b, s_q, h_q, head_dim_v), dtype=out_dtype)
        row = h_q * head_dim_v
        pack_new(block, slot + 4, out, same[out_dtype], (b, s_q, h_q, head_dim_v),
                 (s_q * row, row, head_dim_v, 1))
    if lse is None:
        lse = q.new_empty((b, h_q, s_q), dtype=_float32)
        pack_new(block, slot + 5, lse, _FLOAT32_CODE, (b, h_q, s_q), (h_q * s_q, s_q, 1))
    size = _tt.workspace_bytes(b, s_q, h_q, head_dim_v, parts)
    workspace = q.new_empty((max(size, 1),), dtype=_uint8)
    v = _addressof(block)
    flag = 1 if causal else 0
    if v_cache is None:
        args = (v, v + _TB, v + 2 * _TB, v + 3 * _TB, head_dim_v, v + 4 * _TB, v + 5 * _TB, scale,
                flag, v + 6 * _TB, v + 7 * _TB)
    elif scales is None:
        args = (v, v + _TB, v + 2 * _TB, v + 3 * _TB, v + 4 * _TB, v + 5 * _TB, v + 6 * _TB,
                scale, flag, v + 7 * _TB, v + 8 * _TB)
    else:
        function = _GQA_E4M3
        args = (v, v + _TB, v + 2 * _TB, v + 3 * _TB, v + 4 * _TB, v + 5 * _TB, v + 6 * _TB,
                scale, flag, None if scales[2] is None else v + _Q_SCALE_SLOT * _TB,
                v + _SCALE_SLOT * _TB, v + (_SCALE_SLOT + 1) * _TB, v + 7 * _TB, v + 8 * _TB)
    invoke(function, block, v, device, args + (workspace.data_ptr(), size, current_stream(device)))
    return out, lse


def _decode_traced(function, q, k_cache, v_cache, block_table, cache_seqlens, head_dim_v,
                   metadata, num_splits, softmax_scale, causal, out, lse, scales=None):
    """Under torch.compile: the same call through the torch operators (traceable Python only)."""
    b, s_q, h_q, d_qk = require_rank("q", q, Q_LAYOUT)
    head_dim_v = d_qk if v_cache is not None else _require_head_dim_v(head_dim_v, d_qk)
    scale = softmax_scale_value(softmax_scale, d_qk)
    causal = bool(causal)
    gqa = (q, k_cache, v_cache, block_table, cache_seqlens, metadata, num_splits, scale, causal)
    if out is None and lse is None:
        if v_cache is None:
            return _ops.mla_decode(q, k_cache, block_table, cache_seqlens, head_dim_v, metadata,
                                   num_splits, scale, causal)
        if scales is not None:
            return _ops.gqa_decode_e4m3(*gqa, *scales)
        return _ops.gqa_decode(*gqa)
    if out is None:
        out = q.new_empty((b, s_q, h_q, head_dim_v), dtype=_out_dtype(q, _query_scale(scales)))
    if lse is None:
        lse = q.new_empty((b, h_q, s_q), dtype=_float32)
    if v_cache is None:
        _ops.mla_decode_out(q, k_cache, block_table, cache_seqlens, head_dim_v, metadata,
                            num_splits, scale, causal, out, lse)
    elif scales is not None:
        _ops.gqa_decode_e4m3_out(*gqa, *scales, out, lse)
    else:
        _ops.gqa_decode_out(*gqa, out, lse)
    return out, lse


def _require_head_dim_v(head_dim_v, d_qk):
    # Checked before out is allocated with it; the library refuses the sizes its kernels lack.
    return require_int("head_dim_v", head_dim_v, 1, d_qk, _HEAD_DIM_V_BOUND)


def _pack_schedule_and_outputs(block, slot, metadata, num_splits, out, lse, same, named):
    """The arguments every decode ends with, each one given checked, packed into slots slot ..
    slot + 3 (with a block) and appended to `named`: tile_scheduler_metadata, num_splits, and
    out (q's dtype: `same`) and lse when preallocated. Returns num_sm_parts (0 without metadata)."""
    parts = 0
    if metadata is not None:
        parts = pack(block, slot, "tile_scheduler_metadata", metadata, INT32, METADATA_LAYOUT,
                     contiguous=True)[0]
        named.append(("tile_scheduler_metadata", metadata))
    if num_splits is not None:
        pack(block, slot + 1, "num_splits", num_splits, INT32, SPLITS_LAYOUT, contiguous=True)
        named.append(("num_splits", num_splits))
    if out is not None:
        pack(block, slot + 2, "out", out, same, OUT_LAYOUT)
        named.append(("out", out))
    if lse is not None:
        pack(block, slot + 3, "lse", lse, FLOAT32, LSE_LAYOUT)
        named.append(("lse", lse))
    return parts


def _check_decode(q, k_cache, v_cache, block_table, cache_seqlens, head_dim_v, softmax_scale,
                  metadata, num_splits, out, lse, allow_meta, scales=None):
    """The checks of _decode_eager without the call, in its order: for the fake implementations
    (allow_meta: meta tensors pass the device check) and before a schedule object builds its
    schedule (metadata and num_splits None: not there yet). Returns out's shape."""
    q_dtypes, out_same = _query_dtypes(q, _query_scale(scales), scales is not None)
    b, s_q, h_q, d_qk = pack(None, 0, "q", q, q_dtypes, Q_LAYOUT)
    same = out_same or SAME[q.dtype]
    named = [("q", q), ("k_cache", k_cache)]
    cache_dtypes = SAME[q.dtype] if scales is None else FP8
    pack(None, 0, "k_cache", k_cache, cache_dtypes, CACHE_LAYOUT)
    if v_cache is not None:
        pack(None, 0, "v_cache", v_cache, cache_dtypes, CACHE_LAYOUT)
        named.append(("v_cache", v_cache))
        if scales is not None:
            named += [("descale_k", scales[0]), ("descale_v", scales[1])]
            if scales[2] is not None:
                named.append(("descale_q", scales[2]))
    pack(None, 0, "block_table", block_table, INT32, TABLE_LAYOUT)
    pack(None, 0, "cache_seqlens", cache_seqlens, INT32, SEQLENS_LAYOUT)
    named += [("block_table", block_table), ("cache_seqlens", cache_seqlens)]
    _pack_schedule_and_outputs(None, 0, metadata, num_splits, out, lse, same, named)
    head_dim_v = d_qk if v_cache is not None else _require_head_dim_v(head_dim_v, d_qk)
    softmax_scale_value(softmax_scale, d_qk)
    if allow_meta:
        require_same_cuda_device(named, allow_meta=True)
    else:
        names, tensors = zip(*named)
        cuda_device_index(names, tensors)
    return (b, s_q, h_q, head_dim_v)


def _new_outputs(q, shape, dtype=None):
    b, s_q, h_q, _ = shape
    return q.new_empty(shape, dtype=dtype or q.dtype), q.new_empty((b, h_q, s_q), dtype=_float32)


# ------------------------------------------------------------------------------------ cache writes


def write_kv(cache, rows, slot_mapping, *, is_fp8_kvcache=False, descale=None):
    """cache[slot // page_size, slot % page_size] = rows[i] for each slot_mapping[i] >= 0, in place.

    cache [num_pages, page_size, h_kv, d] (bf16, fp16, float32 or fp8); rows [n, h_kv, d] in the
    cache's dtype; slot_mapping int32 [n] of page * page_size + row, -1 to skip a row.

    Into an FP8 cache (docs/fp8-kv-cache.md), bf16 / fp16 rows are quantized on the way:
    is_fp8_kvcache=True for FlashMLA's fp8_ds_mla layout (cache float8_e4m3fn
    [num_pages, page_size, 1, 656], rows [n, 1, 576]: per-128 power-of-two scales in each token);
    descale= a float32 tensor of one element (the cache's scale, on its device) for fp8_e4m3
    (code = e4m3_rne(x / descale), saturating). The bytes equal the other backends'.
    """
    if is_fp8_kvcache is not False and require_flag("is_fp8_kvcache", is_fp8_kvcache):
        if descale is not None:
            raise ArgumentError("descale", "None with is_fp8_kvcache=True (the fp8_ds_mla tokens "
                                "carry their scales)", describe_value(descale))
        fmt = _FP8_DS_MLA
    elif descale is not None:
        fmt = _FP8_E4M3
    else:
        fmt = 0
    if _traced(cache):
        if fmt:
            _ops.write_kv_fp8(cache, rows, slot_mapping, fmt, descale)
        else:
            _ops.write_kv(cache, rows, slot_mapping)
        return
    if fmt:
        _write_kv_fp8_eager(cache, rows, slot_mapping, fmt, descale)
    else:
        _write_kv_eager(cache, rows, slot_mapping)


def _write_kv_eager(cache, rows, slot_mapping):
    import_torch()
    block = _CallBlock()
    pack(block, 0, "cache", cache, CACHE_DTYPES, CACHE_LAYOUT)
    pack(block, 1, "rows", rows, SAME.get(cache.dtype, {}), ROWS_LAYOUT)
    pack(block, 2, "slot_mapping", slot_mapping, INT32, SLOTS_LAYOUT)
    device = cuda_device_index(("cache", "rows", "slot_mapping"), (cache, rows, slot_mapping))
    base = _addressof(block)
    invoke("fmla_write_kv", block, base, device,
           (base, base + _TB, base + 2 * _TB, current_stream(device)))


def _write_kv_fake(cache, rows, slot_mapping):
    pack(None, 0, "cache", cache, CACHE_DTYPES, CACHE_LAYOUT)
    pack(None, 0, "rows", rows, SAME.get(cache.dtype, {}), ROWS_LAYOUT)
    pack(None, 0, "slot_mapping", slot_mapping, INT32, SLOTS_LAYOUT)
    require_same_cuda_device([("cache", cache), ("rows", rows), ("slot_mapping", slot_mapping)],
                             allow_meta=True)


# fmla_kv_format (flash_mla.h)
_FP8_DS_MLA = 1
_FP8_E4M3 = 2


def _check_write_kv_fp8(block, cache, rows, slot_mapping, fmt, descale, allow_meta):
    """The checks of an FP8 write, packing the views into `block` when it is given; returns the
    named tensors (the library checks shapes against each other and the fp8_ds_mla layout)."""
    if fmt not in (_FP8_DS_MLA, _FP8_E4M3):
        raise ArgumentError("format", f"{_FP8_DS_MLA} (fp8_ds_mla) or {_FP8_E4M3} (fp8_e4m3)",
                            describe_value(fmt))
    pack(block, 0, "cache", cache, FP8, CACHE_LAYOUT)
    pack(block, 1, "rows", rows, HALF, ROWS_LAYOUT)
    pack(block, 2, "slot_mapping", slot_mapping, INT32, SLOTS_LAYOUT)
    named = [("cache", cache), ("rows", rows), ("slot_mapping", slot_mapping)]
    if fmt == _FP8_E4M3:
        pack_scale(block, 3, "descale", descale)
        named.append(("descale", descale))
    if allow_meta:
        require_same_cuda_device(named, allow_meta=True)
    return named


def _write_kv_fp8_eager(cache, rows, slot_mapping, fmt, descale):
    import_torch()
    block = _CallBlock()
    named = _check_write_kv_fp8(block, cache, rows, slot_mapping, fmt, descale, False)
    names, tensors = zip(*named)
    device = cuda_device_index(names, tensors)
    base = _addressof(block)
    invoke("fmla_write_kv_fp8", block, base, device,
           (base, base + _TB, base + 2 * _TB, fmt, base + 3 * _TB if fmt == _FP8_E4M3 else None,
            current_stream(device)))


def _write_kv_fp8_fake(cache, rows, slot_mapping, fmt, descale):
    _check_write_kv_fp8(None, cache, rows, slot_mapping, fmt, descale, True)


# ------------------------------------------------------------------------------------ FlashMLA's
# other entry points: kernels this library does not have. Present so that code importing them
# imports; calling one says so.


def _missing(function, what):
    def missing(*args, **kwargs):
        raise NotImplementedError(
            f"{function}: {what} is not implemented by flash_mla_ts (it implements paged decode: "
            "flash_mla_with_kvcache, gqa_decode_with_kvcache)"
        )

    missing.__name__ = missing.__qualname__ = function
    missing.__doc__ = f"Not implemented: {what}. Raises NotImplementedError."
    return missing


flash_mla_sparse_fwd = _missing("flash_mla_sparse_fwd", "sparse attention prefill")
flash_attn_varlen_func = _missing("flash_attn_varlen_func", "dense attention prefill")
flash_attn_varlen_qkvpacked_func = _missing("flash_attn_varlen_qkvpacked_func",
                                            "dense attention prefill")
flash_attn_varlen_kvpacked_func = _missing("flash_attn_varlen_kvpacked_func",
                                           "dense attention prefill")


# ------------------------------------------------------------------------------------ operators


def _register_operators():
    def mla_decode(q, k_cache, block_table, cache_seqlens, head_dim_v, metadata, num_splits,
                   softmax_scale, causal):
        return _decode_eager(_MLA, q, k_cache, None, block_table, cache_seqlens, head_dim_v,
                             metadata, num_splits, softmax_scale, causal, None, None)

    def mla_decode_out(q, k_cache, block_table, cache_seqlens, head_dim_v, metadata, num_splits,
                       softmax_scale, causal, out, lse):
        _decode_eager(_MLA, q, k_cache, None, block_table, cache_seqlens, head_dim_v, metadata,
                      num_splits, softmax_scale, causal, out, lse)

    def gqa_decode(q, k_cache, v_cache, block_table, cache_seqlens, metadata, num_splits,
                   softmax_scale, causal):
        return _decode_eager(_GQA, q, k_cache, v_cache, block_table, cache_seqlens, None,
                             metadata, num_splits, softmax_scale, causal, None, None)

    def gqa_decode_out(q, k_cache, v_cache, block_table, cache_seqlens, metadata, num_splits,
                       softmax_scale, causal, out, lse):
        _decode_eager(_GQA, q, k_cache, v_cache, block_table, cache_seqlens, None, metadata,
                      num_splits, softmax_scale, causal, out, lse)

    def mla_decode_fake(q, k_cache, block_table, cache_seqlens, head_dim_v, metadata, num_splits,
                        softmax_scale, causal):
        shape = _check_decode(q, k_cache, None, block_table, cache_seqlens, head_dim_v,
                              softmax_scale, metadata, num_splits, None, None, allow_meta=True)
        return _new_outputs(q, shape)

    def mla_decode_out_fake(q, k_cache, block_table, cache_seqlens, head_dim_v, metadata,
                            num_splits, softmax_scale, causal, out, lse):
        _check_decode(q, k_cache, None, block_table, cache_seqlens, head_dim_v, softmax_scale,
                      metadata, num_splits, out, lse, allow_meta=True)

    def gqa_decode_fake(q, k_cache, v_cache, block_table, cache_seqlens, metadata, num_splits,
                        softmax_scale, causal):
        shape = _check_decode(q, k_cache, v_cache, block_table, cache_seqlens, None,
                              softmax_scale, metadata, num_splits, None, None, allow_meta=True)
        return _new_outputs(q, shape)

    def gqa_decode_out_fake(q, k_cache, v_cache, block_table, cache_seqlens, metadata,
                            num_splits, softmax_scale, causal, out, lse):
        _check_decode(q, k_cache, v_cache, block_table, cache_seqlens, None, softmax_scale,
                      metadata, num_splits, out, lse, allow_meta=True)

    def gqa_decode_e4m3(q, k_cache, v_cache, block_table, cache_seqlens, metadata, num_splits,
                        softmax_scale, causal, descale_k, descale_v, descale_q):
        return _decode_eager(_GQA, q, k_cache, v_cache, block_table, cache_seqlens, None,
                             metadata, num_splits, softmax_scale, causal, None, None,
                             (descale_k, descale_v, descale_q))

    def gqa_decode_e4m3_out(q, k_cache, v_cache, block_table, cache_seqlens, metadata, num_splits,
                            softmax_scale, causal, descale_k, descale_v, descale_q, out, lse):
        _decode_eager(_GQA, q, k_cache, v_cache, block_table, cache_seqlens, None, metadata,
                      num_splits, softmax_scale, causal, out, lse,
                      (descale_k, descale_v, descale_q))

    def gqa_decode_e4m3_fake(q, k_cache, v_cache, block_table, cache_seqlens, metadata,
                             num_splits, softmax_scale, causal, descale_k, descale_v, descale_q):
        scales = _check_scales(descale_k, descale_v, descale_q)
        shape = _check_decode(q, k_cache, v_cache, block_table, cache_seqlens, None,
                              softmax_scale, metadata, num_splits, None, None, allow_meta=True,
                              scales=scales)
        return _new_outputs(q, shape, _out_dtype(q, descale_q))

    def gqa_decode_e4m3_out_fake(q, k_cache, v_cache, block_table, cache_seqlens, metadata,
                                 num_splits, softmax_scale, causal, descale_k, descale_v,
                                 descale_q, out, lse):
        _check_decode(q, k_cache, v_cache, block_table, cache_seqlens, None, softmax_scale,
                      metadata, num_splits, out, lse, allow_meta=True,
                      scales=_check_scales(descale_k, descale_v, descale_q))

    def mla_decode_fp8(q, k_cache, block_table, cache_seqlens, head_dim_v, metadata, num_splits,
                       softmax_scale, causal, fmt, descale_k, descale_q):
        return _mla_decode_fp8_eager(q, k_cache, block_table, cache_seqlens, head_dim_v,
                                     metadata, num_splits, softmax_scale, causal, fmt, descale_k,
                                     None, None, descale_q)

    def mla_decode_fp8_out(q, k_cache, block_table, cache_seqlens, head_dim_v, metadata,
                           num_splits, softmax_scale, causal, fmt, descale_k, descale_q, out, lse):
        _mla_decode_fp8_eager(q, k_cache, block_table, cache_seqlens, head_dim_v, metadata,
                              num_splits, softmax_scale, causal, fmt, descale_k, out, lse,
                              descale_q)

    def mla_decode_fp8_fake(q, k_cache, block_table, cache_seqlens, head_dim_v, metadata,
                            num_splits, softmax_scale, causal, fmt, descale_k, descale_q):
        b, s_q, h_q, head_dim_v = _check_mla_fp8(
            None, q, k_cache, block_table, cache_seqlens, head_dim_v, metadata, num_splits,
            softmax_scale, fmt, descale_k, None, None, allow_meta=True, descale_q=descale_q)[:4]
        return _new_outputs(q, (b, s_q, h_q, head_dim_v), _out_dtype(q, descale_q))

    def mla_decode_fp8_out_fake(q, k_cache, block_table, cache_seqlens, head_dim_v, metadata,
                                num_splits, softmax_scale, causal, fmt, descale_k, descale_q, out,
                                lse):
        _check_mla_fp8(None, q, k_cache, block_table, cache_seqlens, head_dim_v, metadata,
                       num_splits, softmax_scale, fmt, descale_k, out, lse, allow_meta=True,
                       descale_q=descale_q)

    impls = {
        "get_mla_metadata": _metadata_eager,
        "mla_decode": mla_decode,
        "mla_decode_out": mla_decode_out,
        "gqa_decode": gqa_decode,
        "gqa_decode_out": gqa_decode_out,
        "gqa_decode_e4m3": gqa_decode_e4m3,
        "gqa_decode_e4m3_out": gqa_decode_e4m3_out,
        "mla_decode_fp8": mla_decode_fp8,
        "mla_decode_fp8_out": mla_decode_fp8_out,
        "write_kv": _write_kv_eager,
        "write_kv_fp8": _write_kv_fp8_eager,
    }
    fakes = {
        "get_mla_metadata": _metadata_fake,
        "mla_decode": mla_decode_fake,
        "mla_decode_out": mla_decode_out_fake,
        "gqa_decode": gqa_decode_fake,
        "gqa_decode_out": gqa_decode_out_fake,
        "gqa_decode_e4m3": gqa_decode_e4m3_fake,
        "gqa_decode_e4m3_out": gqa_decode_e4m3_out_fake,
        "mla_decode_fp8": mla_decode_fp8_fake,
        "mla_decode_fp8_out": mla_decode_fp8_out_fake,
        "write_kv": _write_kv_fake,
        "write_kv_fp8": _write_kv_fp8_fake,
    }
    _ops.register(_torch, impls, fakes)


_register_operators()
