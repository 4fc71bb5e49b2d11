"""Tensor-parallel MLA decode, the way engines shard attention: one process per GPU, each decoding
its share of the query heads over its own copy of the (replicated) latent cache, the outputs
all-gathered over NCCL. Checks that the gathered result equals one GPU decoding every head.

    torchrun --nproc_per_node 2 python/examples/tensor_parallel_decode.py [--heads 128]

(with flash_mla_ts installed, or PYTHONPATH=python from a source tree with the library built).

Exits non-zero on any mismatch.
"""

import argparse
import sys

import torch
import torch.distributed as dist

import flash_mla_ts

D_QK, D_V, PAGE = 576, 512, 64


def problem(b, s_q, h_q, seed):
    """The same random paged problem on every rank (built on the CPU from one seed)."""
    gen = torch.Generator().manual_seed(seed)
    lens = torch.randint(1, 4096, (b,), generator=gen)
    pages_of = (lens + PAGE - 1) // PAGE
    max_pages = int(pages_of.max())
    perm = torch.randperm(int(pages_of.sum()), generator=gen).to(torch.int32)
    table = torch.zeros((b, max_pages), dtype=torch.int32)
    first = 0
    for i, n in enumerate(pages_of.tolist()):
        table[i, :n] = perm[first:first + n]
        first += n
    cache = (torch.randn((first, PAGE, 1, D_QK), generator=gen) / 10).clamp(-1, 1)
    q = (torch.randn((b, s_q, h_q, D_QK), generator=gen) / 10).clamp(-1, 1)
    device = torch.cuda.current_device()
    return (q.to(torch.bfloat16).to(device), cache.to(torch.bfloat16).to(device),
            table.to(device), lens.to(torch.int32).to(device))


def decode(q, cache, table, lens, causal):
    s_q, h_q = q.shape[1], q.shape[2]
    meta, splits = flash_mla_ts.get_mla_metadata(lens, s_q * h_q, 1)
    return flash_mla_ts.flash_mla_with_kvcache(q, cache, table, lens, D_V, meta, splits,
                                               causal=causal)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--heads", type=int, default=128, help="query heads in all (h_q)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--s-q", type=int, default=2)
    args = parser.parse_args()

    dist.init_process_group("nccl")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.cuda.set_device(rank)  # one process per GPU: this rank's device
    if args.heads % world:
        raise SystemExit(f"--heads {args.heads} is not a multiple of the {world} ranks")
    shard = args.heads // world

    q, cache, table, lens = problem(args.batch, args.s_q, args.heads, seed=7)
    q_local = q[:, :, rank * shard:(rank + 1) * shard].contiguous()
    out_local, lse_local = decode(q_local, cache, table, lens, causal=True)
    outs = [torch.empty_like(out_local) for _ in range(world)]
    lses = [torch.empty_like(lse_local) for _ in range(world)]
    dist.all_gather(outs, out_local)
    dist.all_gather(lses, lse_local)
    out, lse = torch.cat(outs, dim=2), torch.cat(lses, dim=1)

    full_out, full_lse = decode(q, cache, table, lens, causal=True)  # one GPU, every head
    torch.cuda.synchronize()
    rel = ((out.float() - full_out.float()).norm() / full_out.float().norm()).item()
    lse_err = (lse - full_lse).abs().max().item()
    # The shard's schedule cuts the keys differently (fewer rows, more parts), so the float sums
    # differ in rounding only.
    ok = rel < 1e-2 and lse_err < 1e-3 and torch.cuda.current_device() == rank
    print(f"rank {rank}/{world} on cuda:{torch.cuda.current_device()}: heads "
          f"{rank * shard}-{(rank + 1) * shard - 1} of {args.heads}, gathered vs one-GPU decode: "
          f"rel_l2 {rel:.1e}, max lse error {lse_err:.1e} -> {'ok' if ok else 'MISMATCH'}",
          flush=True)
    flags = torch.tensor([0 if ok else 1], device=rank)
    dist.all_reduce(flags)
    dist.destroy_process_group()
    return 1 if flags.item() else 0


if __name__ == "__main__":
    sys.exit(main())
