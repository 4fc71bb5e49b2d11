"""Random paged decode problems, as the GPU tests of the project build them: values drawn from
clamp(randn / 10, -1, 1), pages permuted over a pool with free pages in it, NaN in every cache row
no sequence uses, garbage block-table entries past each sequence's pages."""

from dataclasses import dataclass
from typing import List, Optional

import torch

# Block-table entries no kernel may follow: out of range in both directions.
GARBAGE_PAGES = [-1, -(2**31), 2**31 - 1, 1 << 30, -777]


@dataclass
class Problem:
    q: torch.Tensor  # [b, s_q, h_q, d_qk]
    k_cache: torch.Tensor  # [num_pages, page_size, h_kv, d_qk]
    v_cache: Optional[torch.Tensor]  # [num_pages, page_size, h_kv, d_v]; None for MLA
    block_table: torch.Tensor  # int32 [b, max_pages]
    cache_seqlens: torch.Tensor  # int32 [b]
    seqlens: List[int]
    head_dim_v: int


def attention_values(shape, generator, device, dtype):
    x = torch.randn(shape, generator=generator, device=device, dtype=torch.float32)
    return (x / 10).clamp_(-1, 1).to(dtype)


def sequence_lengths(generator, b, s_k, s_q, varlen):
    """All s_k, or max(round(normal(s_k, s_k / 2)), s_q) each with varlen."""
    if not varlen:
        return [s_k] * b
    draws = torch.randn(b, generator=generator, dtype=torch.float64) * (s_k / 2) + s_k
    return [max(int(round(x)), s_q) for x in draws.tolist()]


def make_problem(seed, *, s_q, h_q, page_size, device, b=None, s_k=None, seqlens=None,
                 varlen=False, h_kv=1, d=None, dtype=torch.bfloat16):
    """MLA (d_qk 576, values the first 512 columns), or with `d` GQA with separate K and V."""
    host = torch.Generator().manual_seed(seed)
    values = torch.Generator(device=device).manual_seed(seed)
    if seqlens is None:
        seqlens = sequence_lengths(host, b, s_k, s_q, varlen)
    d_qk, d_v = (576, 512) if d is None else (d, d)

    pages_needed = [-(-length // page_size) for length in seqlens]
    total = sum(pages_needed)
    num_pages = total + max(1, -(-total // 4))
    pool = torch.randperm(num_pages, generator=host).tolist()
    max_pages = max([0] + pages_needed) + 1  # every row has entries past its pages
    garbage = torch.randint(0, len(GARBAGE_PAGES), (len(seqlens), max_pages), generator=host)
    table = [[GARBAGE_PAGES[g] for g in row] for row in garbage.tolist()]
    used = torch.zeros(num_pages * page_size, dtype=torch.bool)
    start = 0
    for i, (length, n) in enumerate(zip(seqlens, pages_needed)):
        pages = pool[start:start + n]
        start += n
        table[i][:n] = pages
        t = torch.arange(length)
        page_of_token = torch.tensor(pages, dtype=torch.long)[t // page_size]
        used[page_of_token * page_size + t % page_size] = True
    unused = (~used).view(num_pages, page_size).to(device)

    def cache(dim):
        c = attention_values((num_pages, page_size, h_kv, dim), values, device, dtype)
        c[unused] = float("nan")
        return c

    k_cache = cache(d_qk)
    return Problem(
        q=attention_values((len(seqlens), s_q, h_q, d_qk), values, device, dtype),
        k_cache=k_cache,
        v_cache=None if d is None else cache(d_v),
        block_table=torch.tensor(table, dtype=torch.int32, device=device),
        cache_seqlens=torch.tensor(seqlens, dtype=torch.int32, device=device),
        seqlens=list(seqlens),
        head_dim_v=d_v,
    )
