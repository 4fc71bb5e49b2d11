"""docs/schedule.md in plain Python: the split-KV schedule that get_mla_metadata must reproduce."""

BLOCK_M = 64
BLOCK_N = 64
FIXED_OVERHEAD_BLOCKS = 5


def ceil_div(a, b):
    return -(-a // b)


def num_sm_parts(num_sms, num_q_tokens_per_head_k, num_heads_k):
    row_blocks = ceil_div(num_q_tokens_per_head_k, BLOCK_M)
    return max(1, num_sms // num_heads_k // row_blocks)


def schedule(seqlens, parts):
    """(metadata [parts][8], num_splits [b + 1]) as lists of ints."""
    blocks = [ceil_div(length, BLOCK_N) for length in seqlens]
    total = sum(n + FIXED_OVERHEAD_BLOCKS for n in blocks)
    payload = ceil_div(total, parts) + FIXED_OVERHEAD_BLOCKS
    # At least a sequence a part: whole sequences when each part may take one overhead more than its
    # share; else cuts.
    whole = None
    if len(seqlens) >= parts:
        whole = walk(seqlens, blocks, parts, payload + FIXED_OVERHEAD_BLOCKS, cut=False)
    return whole if whole is not None else walk(seqlens, blocks, parts, payload, cut=True)


def walk(seqlens, blocks, parts, payload, cut):
    """The greedy walk at `payload`; None when the parts end before the batch (only without cuts)."""
    b = len(seqlens)
    batch = block = split = 0
    num_splits = [0] * (b + 1)
    metadata = []
    for _ in range(parts):
        begin_batch, begin_token, begin_split = batch, block * BLOCK_N, split
        remaining = payload
        end_batch, end_token = batch - 1, (seqlens[batch - 1] if batch > 0 else 0)
        while batch < b and remaining > FIXED_OVERHEAD_BLOCKS:
            rest = blocks[batch] - block
            if rest + FIXED_OVERHEAD_BLOCKS <= remaining:  # the rest of this sequence fits
                remaining -= rest + FIXED_OVERHEAD_BLOCKS
                end_batch, end_token = batch, seqlens[batch]
                split += 1
                num_splits[batch + 1] = split
                batch, block = batch + 1, 0
            elif cut:  # cut it; the rest goes to the next part
                block += remaining - FIXED_OVERHEAD_BLOCKS
                end_batch, end_token = batch, block * BLOCK_N
                split += 1
                remaining = 0
            else:  # it starts the next part
                break
        metadata.append([begin_batch, begin_token, end_batch, end_token, begin_split, 0, 0, 0])
    if batch < b:
        return None
    return metadata, num_splits
