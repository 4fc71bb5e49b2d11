"""flash_mla_ts: paged-KV-cache decode attention (MLA and GQA) for PyTorch, over libflashmla.so.

FlashMLA's calling conventions, so that code written for it switches by changing an import. The
current one (a schedule object built by the first decode call):

    from flash_mla_ts import get_mla_metadata, flash_mla_with_kvcache

    sched_meta, _ = get_mla_metadata()
    out, lse = flash_mla_with_kvcache(q, k_cache, block_table, cache_seqlens, 512, sched_meta, None,
                                      causal=True)

and the 2025 one (schedule tensors computed up front):

    tile_scheduler_metadata, num_splits = get_mla_metadata(cache_seqlens, s_q * h_q // h_kv, h_kv)
    out, lse = flash_mla_with_kvcache(q, k_cache, block_table, cache_seqlens, 512,
                                      tile_scheduler_metadata, num_splits, causal=True)

Importing this package needs neither torch nor the library (it imports torch when torch is there,
to register the torch.compile operators); the functions that need them say so when they are
missing.
"""

from ._fast import release_workspaces
from ._fast import status as fast_path_status
from ._library import LIBRARY_ENV, find_library
from .attention import (
    flash_attn_varlen_func,
    flash_attn_varlen_kvpacked_func,
    flash_attn_varlen_qkvpacked_func,
    flash_mla_sparse_fwd,
    flash_mla_with_kvcache,
    get_mla_metadata,
    gqa_decode_with_kvcache,
    mla_num_sm_parts,
    write_kv,
)
from .errors import (
    ArgumentError,
    CudaError,
    FlashMlaError,
    InvalidArgumentError,
    LibraryNotFoundError,
    NoDeviceError,
    OutOfMemoryError,
    ScheduleMismatchError,
    UnsupportedError,
)
from .runtime import device_count, library_version
from .schedule import FlashMLASchedMeta

__version__ = "0.1.0"

__all__ = [
    "get_mla_metadata",
    "flash_mla_with_kvcache",
    "FlashMLASchedMeta",
    "gqa_decode_with_kvcache",
    "write_kv",
    "mla_num_sm_parts",
    "flash_mla_sparse_fwd",
    "flash_attn_varlen_func",
    "flash_attn_varlen_qkvpacked_func",
    "flash_attn_varlen_kvpacked_func",
    "device_count",
    "library_version",
    "fast_path_status",
    "release_workspaces",
    "find_library",
    "LIBRARY_ENV",
    "ArgumentError",
    "FlashMlaError",
    "InvalidArgumentError",
    "NoDeviceError",
    "CudaError",
    "OutOfMemoryError",
    "UnsupportedError",
    "LibraryNotFoundError",
    "ScheduleMismatchError",
]
