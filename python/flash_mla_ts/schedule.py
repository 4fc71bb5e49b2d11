"""The schedule object of FlashMLA's current calling convention.

    sched, _ = get_mla_metadata()          # empty: (FlashMLASchedMeta(), None)
    for layer in layers:                   # the first call builds the schedule, the others reuse it
        out, lse = flash_mla_with_kvcache(q, k_cache, block_table, cache_seqlens, 512, sched, None,
                                          causal=True)

The first decode that gets an uninitialized FlashMLASchedMeta computes the split-KV schedule from
its cache_seqlens and the shapes of its arguments, and stores it here with those shapes
(`config`). A later call with the same object reuses the schedule after checking that its shapes and
flags are those of the first call (ScheduleMismatchError names the first that differs). The schedule
also depends on the values of cache_seqlens, which are on the device and are not checked: take a new
object from get_mla_metadata() whenever the lengths change (every decode step).
"""

import dataclasses
from typing import Any, NamedTuple, Optional

from ._torch_tensors import (
    INT32,
    METADATA_LAYOUT,
    SPLITS_LAYOUT,
    pack,
    require_flag,
    require_num_sms,
)
from .errors import ArgumentError, ScheduleMismatchError, describe_value

__all__ = ["FlashMLASchedMeta", "ScheduleConfig"]


class ScheduleConfig(NamedTuple):
    """What a schedule was built for: FlashMLA's FlashMLASchedMeta.Config, field for field."""

    b: int
    s_q: int
    h_q: int
    page_block_size: int
    h_k: int
    causal: bool
    is_fp8_kvcache: bool
    topk: Optional[int]
    extra_page_block_size: Optional[int]
    extra_topk: Optional[int]


# Where each field comes from, for the messages.
_SOURCES = {
    "b": "the batch size, q.shape[0]",
    "s_q": "query tokens per sequence, q.shape[1]",
    "h_q": "query heads, q.shape[2]",
    "page_block_size": "the page size, k_cache.shape[1]",
    "h_k": "KV heads, k_cache.shape[2]",
    "causal": "the causal argument",
    "is_fp8_kvcache": "the is_fp8_kvcache argument",
    "topk": "indices.shape[-1]",
    "extra_page_block_size": "extra_k_cache.shape[1]",
    "extra_topk": "extra_indices_in_kvcache.shape[-1]",
}


# eq=False: identity comparison and hashing, as for any handle (a generated __eq__ would compare
# the schedule tensors element-wise).
@dataclasses.dataclass(eq=False)
class FlashMLASchedMeta:
    """A split-KV schedule built by the first decode call that uses it (see the module docstring).

    tile_scheduler_metadata int32 [num_sm_parts, 8] and num_splits int32 [b + 1] are this
    library's schedule (docs/schedule.md), not FlashMLA's: its layout differs, so a schedule made
    by hand for FlashMLA does not carry over. Set them before the first call to impose a schedule
    (from get_mla_metadata(cache_seqlens, ...)); num_sms, when set, replaces the device's SM count
    when the schedule is built (get_mla_metadata(num_sms=...)).
    """

    Config = ScheduleConfig

    have_initialized: bool = False
    config: Optional[ScheduleConfig] = None
    tile_scheduler_metadata: Any = None
    num_splits: Any = None
    num_sms: Optional[int] = None

    def __post_init__(self):
        # A schedule set here is used as it is by the first call: checked now, as an argument.
        self.have_initialized = require_flag("have_initialized", self.have_initialized)
        if self.config is not None and not isinstance(self.config, ScheduleConfig):
            raise ArgumentError("config", "a FlashMLASchedMeta.Config or None",
                                describe_value(self.config))
        metadata, splits = self.tile_scheduler_metadata, self.num_splits
        if metadata is not None:
            pack(None, 0, "tile_scheduler_metadata", metadata, INT32, METADATA_LAYOUT,
                 contiguous=True)
        if splits is not None:
            pack(None, 0, "num_splits", splits, INT32, SPLITS_LAYOUT, contiguous=True)
        if (metadata is None) != (splits is None):
            missing = "num_splits" if splits is None else "tile_scheduler_metadata"
            raise ArgumentError(missing, "a tensor, set together with the other schedule tensor",
                                "None")
        if self.have_initialized and (self.config is None or metadata is None):
            raise ArgumentError("have_initialized",
                                "False unless config and the schedule tensors are set", "True")
        if self.num_sms is not None:
            self.num_sms = require_num_sms(self.num_sms)


_ADVICE = ("A schedule serves only calls with the shapes, flags and cache lengths of its first "
           "call; take a new one from get_mla_metadata() when they change")


def raise_mismatch(built, given):
    """ScheduleMismatchError naming the first field of `given` that differs from `built`."""
    if built is None:
        raise ScheduleMismatchError(
            "tile_scheduler_metadata", "a FlashMLASchedMeta with a config once it is initialized",
            "one marked initialized without a config", "Take a new one from get_mla_metadata()")
    for field, then, now in zip(ScheduleConfig._fields, built, given):
        if then != now:
            raise ScheduleMismatchError(
                "tile_scheduler_metadata",
                f"a call matching this FlashMLASchedMeta, built for {field} = {then} "
                f"({_SOURCES[field]})",
                f"{field} = {now}", _ADVICE)
    raise ScheduleMismatchError("tile_scheduler_metadata",
                                f"a call matching this FlashMLASchedMeta, built for {built}",
                                str(given), _ADVICE)
