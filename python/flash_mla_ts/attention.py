"""The attention operations on torch CUDA tensors, with FlashMLA's calling convention.

Each function checks its arguments (TypeError / ValueError naming the argument), allocates its
outputs and the workspace with torch on the inputs' device, and enqueues the library's kernels on
torch's current stream of that device: like any torch operation it is asynchronous and ordered with
the torch work around it, and it may be captured in a CUDA graph (pass `out` / `lse` to capture with
buffers you own). The schedule from get_mla_metadata depends only on the sequence lengths, so one
schedule serves every layer of a decode step.
"""

import ctypes
import numbers

from . import _library
from ._torch_tensors import (
    as_fmla,
    checked,
    import_torch,
    ref,
    require_int,
    require_same_cuda_device,
)

__all__ = [
    "get_mla_metadata",
    "flash_mla_with_kvcache",
    "gqa_decode_with_kvcache",
    "write_kv",
    "mla_num_sm_parts",
]

METADATA_INTS = 8  # FMLA_METADATA_INTS


def _stream_on(device):
    """Makes `device` the library's current device and returns torch's current stream on it."""
    torch = import_torch()
    current = ctypes.c_int(-1)
    _library.call("fmla_get_device", ctypes.byref(current))
    if current.value != device.index:
        _library.call("fmla_set_device", device.index)
    return ctypes.c_void_p(torch.cuda.current_stream(device).cuda_stream or None)


def mla_num_sm_parts(num_sms, num_q_tokens_per_head_k, num_heads_k):
    """How many parts the schedule cuts the work into (docs/schedule.md); needs no GPU."""
    return _library.load().fmla_mla_num_sm_parts(
        require_int("num_sms", num_sms, 1),
        require_int("num_q_tokens_per_head_k", num_q_tokens_per_head_k, 1),
        require_int("num_heads_k", num_heads_k, 1),
    )


def get_mla_metadata(cache_seqlens, num_q_tokens_per_head_k, num_heads_k, *, num_sms=None):
    """The split-KV schedule for a batch, computed on the device (no host round trip).

    cache_seqlens: int32 [b] CUDA tensor. num_q_tokens_per_head_k: s_q * h_q // h_kv.
    num_heads_k: h_kv. num_sms defaults to the device's SM count.
    Returns (tile_scheduler_metadata int32 [num_sm_parts, 8], num_splits int32 [b + 1]).
    """
    torch = import_torch()
    seqlens = checked("cache_seqlens", cache_seqlens, (torch.int32,), ("b",))
    q_tokens = require_int("num_q_tokens_per_head_k", num_q_tokens_per_head_k, 1)
    h_kv = require_int("num_heads_k", num_heads_k, 1)
    device = require_same_cuda_device([("cache_seqlens", seqlens)])
    if num_sms is None:
        num_sms = torch.cuda.get_device_properties(device).multi_processor_count
    else:
        require_int("num_sms", num_sms, 1)
    parts = mla_num_sm_parts(num_sms, q_tokens, h_kv)
    metadata = torch.empty((parts, METADATA_INTS), dtype=torch.int32, device=device)
    num_splits = torch.empty((seqlens.shape[0] + 1,), dtype=torch.int32, device=device)
    stream = _stream_on(device)
    views = [as_fmla(seqlens), as_fmla(metadata), as_fmla(num_splits)]
    _library.call(
        "fmla_get_mla_metadata", ref(views[0]), q_tokens, h_kv, ref(views[1]), ref(views[2]), stream
    )
    return metadata, num_splits


def _softmax_scale(softmax_scale, head_dim):
    if softmax_scale is None:
        return head_dim ** -0.5
    if isinstance(softmax_scale, bool) or not isinstance(softmax_scale, numbers.Real):
        raise TypeError(
            f"softmax_scale: expected a float or None, got {type(softmax_scale).__name__}"
        )
    return float(softmax_scale)


def _decode(function, q, k_cache, v_cache, block_table, cache_seqlens, head_dim_v,
            tile_scheduler_metadata, num_splits, softmax_scale, causal, out, lse):
    """The shared body of the MLA and GQA decodes: v_cache is None for MLA, head_dim_v None for GQA
    (whose values have q's head dim)."""
    torch = import_torch()
    q = checked("q", q, (torch.bfloat16, torch.float16), ("b", "s_q", "h_q", "d_qk"))
    cache_layout = ("num_pages", "page_size", "h_kv", "d")
    k_cache = checked("k_cache", k_cache, (q.dtype,), cache_layout)
    if v_cache is not None:
        v_cache = checked("v_cache", v_cache, (q.dtype,), cache_layout)
    block_table = checked("block_table", block_table, (torch.int32,), ("b", "max_pages"))
    cache_seqlens = checked("cache_seqlens", cache_seqlens, (torch.int32,), ("b",))
    metadata = checked(
        "tile_scheduler_metadata", tile_scheduler_metadata, (torch.int32,),
        ("num_sm_parts", str(METADATA_INTS)), contiguous=True,
    )
    num_splits = checked("num_splits", num_splits, (torch.int32,), ("b + 1",), contiguous=True)
    if out is not None:
        out = checked("out", out, (q.dtype,), ("b", "s_q", "h_q", "d_v"))
    if lse is not None:
        lse = checked("lse", lse, (torch.float32,), ("b", "h_q", "s_q"))
    if v_cache is not None:
        head_dim_v = q.shape[-1]
    head_dim_v = require_int("head_dim_v", head_dim_v, 1)
    scale = _softmax_scale(softmax_scale, q.shape[-1])
    named = [("q", q), ("k_cache", k_cache), ("v_cache", v_cache), ("block_table", block_table),
             ("cache_seqlens", cache_seqlens), ("tile_scheduler_metadata", metadata),
             ("num_splits", num_splits), ("out", out), ("lse", lse)]
    device = require_same_cuda_device([(n, t) for n, t in named if t is not None])

    b, s_q, h_q, _ = q.shape
    if out is None:
        out = torch.empty((b, s_q, h_q, head_dim_v), dtype=q.dtype, device=device)
    if lse is None:
        lse = torch.empty((b, h_q, s_q), dtype=torch.float32, device=device)
    lib = _library.load()
    workspace_bytes = lib.fmla_decode_workspace_bytes(b, s_q, h_q, head_dim_v, metadata.shape[0])
    workspace = torch.empty((max(workspace_bytes, 1),), dtype=torch.uint8, device=device)
    stream = _stream_on(device)
    tensors = (q, k_cache, block_table, cache_seqlens, metadata, num_splits, out, lse)
    q_v, k_v, table_v, lens_v, meta_v, splits_v, out_v, lse_v = [as_fmla(t) for t in tensors]
    if v_cache is None:
        args = [ref(q_v), ref(k_v), ref(table_v), ref(lens_v), head_dim_v]
    else:
        v_v = as_fmla(v_cache)
        args = [ref(q_v), ref(k_v), ref(v_v), ref(table_v), ref(lens_v)]
    args += [ref(meta_v), ref(splits_v), scale, 1 if causal else 0, ref(out_v), ref(lse_v),
             ctypes.c_void_p(workspace.data_ptr()), workspace_bytes, stream]
    _library.call(function, *args)
    return out, lse


def flash_mla_with_kvcache(q, k_cache, block_table, cache_seqlens, head_dim_v,
                           tile_scheduler_metadata, num_splits, softmax_scale=None, causal=False,
                           *, out=None, lse=None):
    """MLA decode over a paged latent cache (values are the first head_dim_v entries of each row).

    q [b, s_q, h_q, 576] bf16/fp16; k_cache [num_pages, page_size, h_kv, 576] (q's dtype);
    block_table int32 [b, max_pages]; cache_seqlens int32 [b]; head_dim_v 512; the schedule from
    get_mla_metadata(cache_seqlens, s_q * h_q // h_kv, h_kv). softmax_scale defaults to 1/sqrt(576);
    with causal, query j of s_q attends keys t <= L - s_q + j.
    Returns (out [b, s_q, h_q, head_dim_v] in q's dtype, softmax_lse float32 [b, h_q, s_q]).
    """
    return _decode("fmla_mla_decode", q, k_cache, None, block_table, cache_seqlens, head_dim_v,
                   tile_scheduler_metadata, num_splits, softmax_scale, causal, out, lse)


def gqa_decode_with_kvcache(q, k_cache, v_cache, block_table, cache_seqlens,
                            tile_scheduler_metadata, num_splits, softmax_scale=None, causal=False,
                            *, out=None, lse=None):
    """GQA / MHA / MQA decode with separate paged K and V caches of head dim d in {64, 128, 256}.

    q [b, s_q, h_q, d]; k_cache, v_cache [num_pages, page_size, h_kv, d] (q's dtype, any page size);
    the schedule from get_mla_metadata(cache_seqlens, s_q * h_q // h_kv, h_kv).
    Returns (out [b, s_q, h_q, d] in q's dtype, lse float32 [b, h_q, s_q]).
    """
    return _decode("fmla_gqa_decode", q, k_cache, v_cache, block_table, cache_seqlens, None,
                   tile_scheduler_metadata, num_splits, softmax_scale, causal, out, lse)


def write_kv(cache, rows, slot_mapping):
    """cache[slot // page_size, slot % page_size] = rows[i] for each slot_mapping[i] >= 0, in place.

    cache [num_pages, page_size, h_kv, d] (bf16, fp16, float32 or fp8); rows [n, h_kv, d] in the
    cache's dtype; slot_mapping int32 [n] of page * page_size + row, -1 to skip a row.
    """
    torch = import_torch()
    allowed = [torch.bfloat16, torch.float16, torch.float32]
    if getattr(torch, "float8_e4m3fn", None) is not None:
        allowed.append(torch.float8_e4m3fn)
    cache = checked("cache", cache, tuple(allowed), ("num_pages", "page_size", "h_kv", "d"))
    rows = checked("rows", rows, (cache.dtype,), ("n", "h_kv", "d"))
    slot_mapping = checked("slot_mapping", slot_mapping, (torch.int32,), ("n",))
    require_same_cuda_device([("cache", cache), ("rows", rows), ("slot_mapping", slot_mapping)])
    stream = _stream_on(cache.device)
    views = [as_fmla(cache), as_fmla(rows), as_fmla(slot_mapping)]
    _library.call("fmla_write_kv", ref(views[0]), ref(views[1]), ref(views[2]), stream)
