"""Paged decode attention in float64 torch, straight from the semantics in docs: the keys of each
sequence gathered through its block table, softmax over the keys each query attends, causal masks
t > L - s_q + j; no key attended gives out = 0, lse = +inf."""

import math

import torch


def reference_decode(q, k_cache, v_cache, block_table, seqlens, head_dim_v, softmax_scale, causal):
    """out [b, s_q, h_q, d_v] and lse [b, h_q, s_q] in float64; with v_cache None the values are
    k[..., :head_dim_v]."""
    b, s_q, h_q, d_qk = q.shape
    _, page_size, h_kv, _ = k_cache.shape
    group = h_q // h_kv
    device = q.device
    out = torch.zeros((b, s_q, h_q, head_dim_v), dtype=torch.float64, device=device)
    lse = torch.full((b, h_q, s_q), math.inf, dtype=torch.float64, device=device)
    table = block_table.cpu().tolist()
    for i, length in enumerate(seqlens):
        if length <= 0:
            continue
        n = -(-length // page_size)
        pages = torch.tensor(table[i][:n], dtype=torch.long, device=device)
        k = k_cache[pages].reshape(n * page_size, h_kv, d_qk)[:length].double()
        if v_cache is None:
            v = k[..., :head_dim_v]
        else:
            v = v_cache[pages].reshape(n * page_size, h_kv, head_dim_v)[:length].double()
        qi = q[i].double().reshape(s_q, h_kv, group, d_qk)
        scores = torch.einsum("jkgd,tkd->kgjt", qi, k) * softmax_scale  # [h_kv, group, s_q, L]
        if causal:
            last = length - s_q + torch.arange(s_q, device=device)  # the last key query j attends
            future = torch.arange(length, device=device) > last[:, None]
            scores = scores.masked_fill(future, -math.inf)
        row_lse = torch.logsumexp(scores, dim=-1)  # -inf where nothing is attended
        attended = torch.isfinite(row_lse)
        weights = torch.where(attended[..., None], torch.exp(scores - row_lse[..., None]), 0.0)
        out[i] = torch.einsum("kgjt,tkd->jkgd", weights, v).reshape(s_q, h_q, head_dim_v)
        lse[i] = torch.where(attended, row_lse, math.inf).reshape(h_q, s_q)
    return out, lse
