"""flash_mla_ts: paged-KV-cache decode attention (MLA and GQA) for PyTorch, over libflashmla.so.

FlashMLA's calling convention, so that code written for it switches by changing an import:

    from flash_mla_ts import get_mla_metadata, flash_mla_with_kvcache

    tile_scheduler_metadata, num_splits = get_mla_metadata(cache_seqlens, s_q * h_q // h_kv, h_kv)
    out, lse = flash_mla_with_kvcache(q, k_cache, block_table, cache_seqlens, 512,
                                      tile_scheduler_metadata, num_splits, causal=True)

Importing this package needs neither torch nor the library; the functions that use them load them.
"""

from ._library import LIBRARY_ENV, find_library
from .attention import (
    flash_mla_with_kvcache,
    get_mla_metadata,
    gqa_decode_with_kvcache,
    mla_num_sm_parts,
    write_kv,
)
from .errors import (
    CudaError,
    FlashMlaError,
    InvalidArgumentError,
    LibraryNotFoundError,
    NoDeviceError,
    OutOfMemoryError,
    UnsupportedError,
)
from .runtime import device_count, library_version

__version__ = "0.1.0"

__all__ = [
    "get_mla_metadata",
    "flash_mla_with_kvcache",
    "gqa_decode_with_kvcache",
    "write_kv",
    "mla_num_sm_parts",
    "device_count",
    "library_version",
    "find_library",
    "LIBRARY_ENV",
    "FlashMlaError",
    "InvalidArgumentError",
    "NoDeviceError",
    "CudaError",
    "OutOfMemoryError",
    "UnsupportedError",
    "LibraryNotFoundError",
]
