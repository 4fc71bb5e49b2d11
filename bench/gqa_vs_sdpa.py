"""The GQA decode suite on a GPU: this library over a paged cache beside torch's
scaled_dot_product_attention (enable_gqa) over a contiguous cache of the same sequences, one process,
the same tensors.

    python3 bench/gqa_vs_sdpa.py [--out FILE.json] [--quick] [--fp8]

Each row is checked before it is timed: outputs poisoned with NaN, every element written, compared
with SDPA (equal lengths) or a float32 reference on sampled sequences (varlen). Times are CUDA-graph
replays after an L2 flush, median of 30. GB/s counts the bytes a decode must read (K and V of every
attended key, q) and write (out); % copy is over a device-to-device copy timed in the same run.
SDPA takes equal lengths only, and is timed without the causal mask (torch aligns it top-left, not
to the end of the cache as decode does; the bytes read are the same).

--fp8 also times each row over fp8_e4m3 copies of the same caches (docs/fp8-kv-cache.md: one scale
per tensor, amax / 448), checked against the float32 reference over the dequantized values: its
speed over this library's bf16 time in the same row, and its % copy over the bytes it reads; then
with the queries as float8_e4m3fn too (descale_q), checked the same way.
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import flash_mla_ts  # noqa: E402

ITERS = 30
FLUSH_BYTES = 256 << 20  # over 4x the H200's L2


def suite(quick):
    """(name, d, h_q, h_kv, s_q, causal, b, s_k or None for varlen around 4096, page) rows."""
    rows = []
    for page in (16, 1, 64):
        for b in (64, 128, 256):
            for s_k in (1024, 4096, 8192):
                rows.append(("core", 128, 32, 8, 1, False, b, s_k, page))
    for d in (64, 256):
        for page in (16, 1):
            rows.append(("head dim", d, 32, 8, 1, False, 128, 4096, page))
    for h_q, h_kv in ((32, 32), (16, 1), (64, 4), (8, 1)):
        for page in (16, 1):
            rows.append(("heads", 128, h_q, h_kv, 1, False, 128, 4096, page))
    for s_q in (2, 4):
        for page in (16, 1):
            rows.append(("s_q causal", 128, 32, 8, s_q, True, 128, 4096, page))
    for b, s_k in ((1, 32768), (4, 32768), (16, 8192)):
        for page in (16, 1):
            rows.append(("small batch", 128, 32, 8, 1, False, b, s_k, page))
    for page in (16, 1):
        rows.append(("varlen", 128, 32, 8, 1, False, 128, None, page))
    if quick:
        rows = [r for r in rows if r[0] != "core" or (r[6] == 128 and r[8] == 16)]
    return rows


def median_graph_us(fn, flush):
    """Median time of one replay of fn captured in a CUDA graph, each after an L2 flush."""
    fn()  # warm up (library loads, allocator)
    torch.cuda.synchronize()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.stream(stream):
        fn()
        torch.cuda.synchronize()
        with torch.cuda.graph(graph, stream=stream):
            fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(ITERS + 3):
        flush.zero_()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e3)
    return statistics.median(times[3:])


def copy_ceiling_gbs():
    """A 1 GiB device-to-device copy, eager (in a graph it becomes a copy-engine node, which is
    slower), timed with events: bytes read + written over the median time."""
    src = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    times = []
    for _ in range(13):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        dst.copy_(src)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e-3)
    return 2 * src.numel() / statistics.median(times[3:]) / 1e9


def lengths(b, s_k, s_q, gen):
    if s_k is not None:
        return [s_k] * b
    normal = torch.normal(4096.0, 2048.0, (b,), generator=gen)
    return [max(int(round(x)), s_q) for x in normal.tolist()]


def paged(contiguous, lens, page, perm):
    """[b, h_kv, s, d] into [num_pages, page, h_kv, d] pages in the order `perm` gives, with NaN in
    the unused rows of each sequence's last page; returns (cache, block_table)."""
    b, h_kv, _, d = contiguous.shape
    pages_of = [(n + page - 1) // page for n in lens]
    max_pages = max(max(pages_of), 1)
    total = sum(pages_of)
    cache = torch.full((total, page, h_kv, d), float("nan"), dtype=contiguous.dtype, device="cuda")
    table = torch.full((b, max_pages), 2**30, dtype=torch.int32)  # garbage past each sequence
    first = 0
    for i, n in enumerate(lens):
        ids = perm[first:first + pages_of[i]]
        table[i, :pages_of[i]] = ids
        rows = contiguous[i, :, :n].transpose(0, 1)  # [n, h_kv, d]
        padded = torch.full((pages_of[i] * page, h_kv, d), float("nan"), dtype=contiguous.dtype,
                            device="cuda")
        padded[:n] = rows
        cache[ids.cuda().long()] = padded.view(pages_of[i], page, h_kv, d)
        first += pages_of[i]
    return cache, table.cuda()


def reference(q, k, v, n, causal):
    """float32 attention of one sequence: q [s_q, h_q, d], k/v [h_kv, n, d] -> [s_q, h_q, d]."""
    s_q, h_q, d = q.shape
    group = h_q // k.shape[0]
    kk = k[:, :n].float().repeat_interleave(group, 0)
    vv = v[:, :n].float().repeat_interleave(group, 0)
    scores = torch.einsum("shd,hnd->hsn", q.float(), kk) / math.sqrt(d)
    if causal:
        pos = torch.arange(n, device=q.device)[None, :]
        limit = (n - s_q + torch.arange(s_q, device=q.device))[:, None]
        scores = scores.masked_fill(pos > limit, float("-inf"))
    return torch.einsum("hsn,hnd->shd", scores.softmax(-1), vv)


def e4m3_of(cache):
    """(float8_e4m3fn codes, descale [1] float32) of a cache: descale amax / 448 over its finite
    values; NaN rows stay NaN. A few pages at a time, to keep the float32 copies small."""
    amax = max(c.nan_to_num(0.0, 0.0, 0.0).abs().amax().float() for c in cache.split(4096))
    descale = (amax / 448).reshape(1)
    codes = torch.empty(cache.shape, dtype=torch.float8_e4m3fn, device=cache.device)
    for src, dst in zip(cache.split(4096), codes.split(4096)):
        dst.copy_((src.float() / descale).clamp(-448, 448))
    return codes, descale


def run_e4m3(result, q, k, v, k_cache, v_cache, table, seqlens, meta, splits, lens, causal, flush,
             copy_gbs, gen):
    """The row again over fp8_e4m3 caches: checked, timed, beside the bf16 time."""
    b, s_q, h_q, d = q.shape
    h_kv = k.shape[1]
    k8, descale_k = e4m3_of(k_cache)
    v8, descale_v = e4m3_of(v_cache)
    out = torch.full_like(q, float("nan"))
    lse = torch.full((b, h_q, s_q), float("nan"), dtype=torch.float32, device="cuda")

    picks = sorted(set(torch.randint(0, b, (4,), generator=gen).tolist()))

    def dequantized(x, descale):
        return (x.float() / descale).clamp(-448, 448).to(torch.float8_e4m3fn).float() * descale

    mean_len = sum(lens) / b
    q8, descale_q = e4m3_of(q)
    # bf16 queries, then float8_e4m3fn ones ("e4m3q_"): checked against the float32 reference over
    # the dequantized values, timed.
    for prefix, query, scales in (("e4m3_", q, {}), ("e4m3q_", q8, {"descale_q": descale_q})):
        out.fill_(float("nan"))
        lse.fill_(float("nan"))

        def ours():
            flash_mla_ts.gqa_decode_with_kvcache(query, k8, v8, table, seqlens, meta, splits, None,
                                                 causal, descale_k=descale_k, descale_v=descale_v,
                                                 out=out, lse=lse, **scales)

        ours()
        torch.cuda.synchronize()
        written = not (out.isnan().any().item() or lse.isnan().any().item())
        q_ref = dequantized(q, descale_q) if scales else q
        expected = torch.stack([reference(q_ref[i], dequantized(k[i], descale_k),
                                          dequantized(v[i], descale_v), lens[i], causal)
                                for i in picks])
        rel_l2 = ((out[picks].float() - expected).norm() / expected.norm()).item()
        us = median_graph_us(ours, flush)
        q_bytes = 1 if scales else 2
        bytes_moved = b * (2 * mean_len * h_kv * d + s_q * h_q * d * (q_bytes + 2))
        gbs = bytes_moved / (us * 1e-6) / 1e9
        result.update({
            prefix + "check": "pass" if written and rel_l2 < 2e-2 else "FAIL",
            prefix + "rel_l2": rel_l2, prefix + "us": us, prefix + "gbs": gbs,
            prefix + "over_bf16_speed": result["ours_us"] / us,
            prefix + "pct_copy": 100 * gbs / copy_gbs,
        })


def run_row(row, flush, copy_gbs, gen, fp8=False):
    name, d, h_q, h_kv, s_q, causal, b, s_k, page = row
    lens = lengths(b, s_k, s_q, gen)
    s_max = max(lens)
    dtype = torch.bfloat16
    q = (torch.randn((b, s_q, h_q, d), generator=gen) / 10).clamp(-1, 1).to(dtype).cuda()
    k = torch.empty((b, h_kv, s_max, d), dtype=dtype, device="cuda").normal_(0, 0.1)
    v = torch.empty_like(k).normal_(0, 0.1)
    total_pages = sum((n + page - 1) // page for n in lens)
    perm = torch.randperm(total_pages, generator=gen).to(torch.int32)
    k_cache, table = paged(k, lens, page, perm)
    v_cache, _ = paged(v, lens, page, perm)
    seqlens = torch.tensor(lens, dtype=torch.int32, device="cuda")
    meta, splits = flash_mla_ts.get_mla_metadata(seqlens, s_q * h_q // h_kv, h_kv)
    out = torch.full((b, s_q, h_q, d), float("nan"), dtype=dtype, device="cuda")
    lse = torch.full((b, h_q, s_q), float("nan"), dtype=torch.float32, device="cuda")

    def ours():
        flash_mla_ts.gqa_decode_with_kvcache(q, k_cache, v_cache, table, seqlens, meta, splits,
                                             None, causal, out=out, lse=lse)

    ours()
    torch.cuda.synchronize()
    written = not (out.isnan().any().item() or lse.isnan().any().item())
    equal = s_k is not None
    sdpa_q = q.transpose(1, 2)  # [b, h_q, s_q, d]

    def sdpa():
        return F.scaled_dot_product_attention(sdpa_q, k, v, enable_gqa=True)

    if equal and not causal:
        expected = sdpa().transpose(1, 2).float()
    else:  # a float32 reference on up to 4 sequences
        picks = sorted(set(torch.randint(0, b, (4,), generator=gen).tolist()))
        expected = torch.stack([reference(q[i], k[i], v[i], lens[i], causal) for i in picks])
    got = out.float() if equal and not causal else out[picks].float()
    rel_l2 = ((got - expected).norm() / expected.norm()).item()
    ok = written and rel_l2 < 2e-2

    mean_len = sum(lens) / b
    bytes_moved = b * (2 * mean_len * h_kv * d * 2 + 2 * s_q * h_q * d * 2)
    ours_us = median_graph_us(ours, flush)
    result = {
        "group": name, "d": d, "h_q": h_q, "h_kv": h_kv, "s_q": s_q, "causal": causal, "b": b,
        "s_k": s_k, "mean_len": mean_len, "page_size": page, "check": "pass" if ok else "FAIL",
        "rel_l2": rel_l2, "ours_us": ours_us,
        "ours_gbs": bytes_moved / (ours_us * 1e-6) / 1e9,
    }
    result["ours_pct_copy"] = 100 * result["ours_gbs"] / copy_gbs
    if equal:
        sdpa_us = median_graph_us(sdpa, flush)
        result["sdpa_us"] = sdpa_us
        result["sdpa_gbs"] = bytes_moved / (sdpa_us * 1e-6) / 1e9
        result["sdpa_pct_copy"] = 100 * result["sdpa_gbs"] / copy_gbs
        result["ours_over_sdpa_speed"] = sdpa_us / ours_us
    if fp8:
        run_e4m3(result, q, k, v, k_cache, v_cache, table, seqlens, meta, splits, lens, causal,
                 flush, copy_gbs, gen)
    del k, v, k_cache, v_cache
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--quick", action="store_true", help="one core row a page size")
    parser.add_argument("--fp8", action="store_true", help="also over fp8_e4m3 caches")
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    flush = torch.empty(FLUSH_BYTES, dtype=torch.uint8, device="cuda")
    copy_gbs = copy_ceiling_gbs()
    props = torch.cuda.get_device_properties(0)
    print(f"{props.name}, {props.multi_processor_count} SMs, torch {torch.__version__}; "
          f"copy ceiling {copy_gbs:.0f} GB/s")
    fp8_head = (" e4m3 us | % copy | e4m3/bf16 speed | e4m3 check | e4m3 q us | e4m3 q/bf16 speed "
                "| e4m3 q check |" if args.fp8 else "")
    print("| group | d | h_q/h_kv | s_q | b | s_k | page | ours us | % copy | SDPA us | % copy "
          "| ours/SDPA speed | check |" + fp8_head)
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|" + "---|" * (7 if args.fp8 else 0))
    gen = torch.Generator().manual_seed(14)
    results = []
    started = time.time()
    rows = suite(args.quick)
    for i, row in enumerate(rows):
        r = run_row(row, flush, copy_gbs, gen, args.fp8)
        results.append(r)
        sdpa = (f"{r['sdpa_us']:.1f} | {r['sdpa_pct_copy']:.0f}% | {r['ours_over_sdpa_speed']:.2f}x"
                if "sdpa_us" in r else "- | - | -")
        print(f"| {r['group']} | {r['d']} | {r['h_q']}/{r['h_kv']} | {r['s_q']}"
              f"{' causal' if r['causal'] else ''} | {r['b']} | {r['s_k'] or 'varlen'} "
              f"| {r['page_size']} | {r['ours_us']:.1f} | {r['ours_pct_copy']:.0f}% | {sdpa} "
              f"| {r['check']} {r['rel_l2']:.1e} |" +
              (f" {r['e4m3_us']:.1f} | {r['e4m3_pct_copy']:.0f}% | {r['e4m3_over_bf16_speed']:.2f}x"
               f" | {r['e4m3_check']} {r['e4m3_rel_l2']:.1e} | {r['e4m3q_us']:.1f}"
               f" | {r['e4m3q_over_bf16_speed']:.2f}x | {r['e4m3q_check']} {r['e4m3q_rel_l2']:.1e} |"
               if args.fp8 else ""), flush=True)
        torch.cuda.empty_cache()
    failures = sum(r["check"] != "pass" or r.get("e4m3_check", "pass") != "pass"
                   or r.get("e4m3q_check", "pass") != "pass" for r in results)
    print(f"{len(results)} rows in {time.time() - started:.0f} s, {failures} failed checks")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"device": props.name, "num_sms": props.multi_processor_count,
                       "torch": torch.__version__, "copy_gbs": copy_gbs, "rows": results}, f,
                      indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
