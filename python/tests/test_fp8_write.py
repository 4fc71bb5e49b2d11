"""write_kv into FP8 caches (docs/fp8-kv-cache.md): the bytes against a torch reference written
here from the format's definition, for fp8_ds_mla (is_fp8_kvcache=True, FlashMLA's layout with
page_size + 1 rows a page too) and fp8_e4m3 (descale=), at pages of 1, 16 and 64, from bf16 and
fp16 rows with outliers, zeros, NaN, infinities and values past the saturation point; and the
argument checks (which run without a GPU)."""

import unittest

import flash_mla_ts

from gpu_probe import GPU_PROBLEM, TORCH_PROBLEM, torch

FP8_PROBLEM = TORCH_PROBLEM or (
    None if hasattr(torch, "float8_e4m3fn") else f"torch {torch.__version__} has no float8_e4m3fn")


def _e4m3_bytes(x):
    """float32 -> e4m3fn codes, round to nearest even (torch's cast), NaN as 0x7f."""
    codes = x.to(torch.float8_e4m3fn).view(torch.uint8)
    return torch.where(torch.isnan(x), torch.full_like(codes, 0x7F), codes)


def reference_ds_mla(rows):
    """[n, 1, 576] bf16 / fp16 -> [n, 656] uint8: FlashMLA's 656-byte tokens."""
    x = rows.float().reshape(-1, 576)
    groups = x[:, :512].reshape(-1, 4, 128)
    finite = torch.isfinite(groups).all(dim=2)
    amax = groups.abs().nan_to_num(0.0, posinf=0.0).amax(dim=2)
    y = torch.clamp(amax / 448, min=1e-4)  # float32 division, float32 floor
    mantissa, exponent = torch.frexp(y)  # y = mantissa * 2^exponent, mantissa in [0.5, 1)
    ceil_log2 = torch.where(mantissa == 0.5, exponent - 1, exponent)
    scale = torch.ldexp(torch.ones_like(y), ceil_log2)
    scale = torch.where(finite, scale, torch.full_like(scale, float("nan")))
    codes = _e4m3_bytes(groups / scale.unsqueeze(2))
    codes = torch.where(finite.unsqueeze(2), codes, torch.full_like(codes, 0x7F))
    scale_bits = scale.view(torch.int32)
    scale_bits = torch.where(finite, scale_bits, torch.full_like(scale_bits, 0x7FC00000))
    rope = rows.reshape(-1, 576)[:, 512:].to(torch.bfloat16)
    rope_bits = rope.view(torch.int16)
    if rows.dtype != torch.bfloat16:  # bf16 rope values are copied, NaN payloads too
        rope_bits = torch.where(torch.isnan(rope), torch.full_like(rope_bits, 0x7FC0), rope_bits)
    return torch.cat([codes.reshape(-1, 512), scale_bits.view(torch.uint8).reshape(-1, 16),
                      rope_bits.view(torch.uint8).reshape(-1, 128)], dim=1)


def reference_e4m3(rows, descale):
    """[n, h_kv, d] -> uint8 codes: e4m3_rne(x / descale), saturating, NaN as 0x7f."""
    return _e4m3_bytes((rows.float() / descale.float().reshape(())).clamp(-448, 448))


def special_rows(generator, n, h_kv, d, dtype, device):
    x = (torch.randn(n, h_kv * d, generator=generator, device=device) / 10).clamp(-1, 1)
    big = 3e38 if dtype == torch.bfloat16 else 65504.0
    for k in range(n):
        kind = k % 8
        if kind == 1:
            x[k, ::97] *= 100
        elif kind == 2:
            x[k] = 0
        elif kind == 3:
            x[k, 5], x[k, -3] = big, -big
        elif kind == 4:
            x[k, 7] = float("nan")
        elif kind == 5:
            x[k, 1], x[k, -1] = float("inf"), float("-inf")
        elif kind == 6:
            x[k] *= 1e-3
    return x.reshape(n, h_kv, d).to(dtype)


def slots_for(generator, num_slots, n, device):
    slots = torch.randperm(num_slots, generator=generator)[:n].to(torch.int32)
    slots[7::9] = -1
    return slots.to(device)


@unittest.skipIf(GPU_PROBLEM or FP8_PROBLEM, GPU_PROBLEM or FP8_PROBLEM)
class Fp8WriteGpuTest(unittest.TestCase):
    def test_fp8_ds_mla(self):
        cases = [(40, 64, 300, torch.bfloat16, 0), (70, 16, 257, torch.float16, 0),
                 (500, 1, 130, torch.bfloat16, 0), (30, 16, 100, torch.bfloat16, 1)]
        for k, (num_pages, page_size, n, dtype, extra_rows) in enumerate(cases):
            with self.subTest(num_pages=num_pages, page_size=page_size, n=n, dtype=dtype,
                              page_rows=page_size + extra_rows):
                g = torch.Generator(device="cuda").manual_seed(100 + k)
                host = torch.Generator().manual_seed(100 + k)
                # FlashMLA's tests allocate page_size + 1 rows a page: a page stride past the rows.
                storage = torch.randint(0, 256, (num_pages, page_size + extra_rows, 1, 656),
                                        generator=g, device="cuda", dtype=torch.uint8)
                cache = storage[:, :page_size].view(torch.float8_e4m3fn)
                rows = special_rows(g, n, 1, 576, dtype, "cuda")
                slots = slots_for(host, num_pages * page_size, n, "cuda")
                before = storage.clone()
                flash_mla_ts.write_kv(cache, rows, slots, is_fp8_kvcache=True)
                expected = before.clone()
                tokens = reference_ds_mla(rows)
                kept = slots >= 0
                pages, in_page = slots[kept] // page_size, slots[kept] % page_size
                expected[pages.long(), in_page.long(), 0] = tokens[kept]
                self.assertTrue(torch.equal(storage, expected))

    def test_fp8_e4m3(self):
        cases = [(40, 64, 1, 576, 300, torch.bfloat16, 0.004), (300, 1, 8, 128, 257,
                 torch.float16, 1 / 448), (50, 16, 2, 64, 33, torch.bfloat16, 0.0002),
                 (10, 16, 4, 256, 40, torch.float16, 3.5), (12, 16, 3, 66, 50, torch.bfloat16,
                                                            0.01)]
        for k, (num_pages, page_size, h_kv, d, n, dtype, scale) in enumerate(cases):
            with self.subTest(num_pages=num_pages, page_size=page_size, h_kv=h_kv, d=d, n=n,
                              dtype=dtype, descale=scale):
                g = torch.Generator(device="cuda").manual_seed(200 + k)
                host = torch.Generator().manual_seed(200 + k)
                storage = torch.randint(0, 256, (num_pages, page_size, h_kv, d), generator=g,
                                        device="cuda", dtype=torch.uint8)
                cache = storage.view(torch.float8_e4m3fn)
                rows = special_rows(g, n, h_kv, d, dtype, "cuda")
                slots = slots_for(host, num_pages * page_size, n, "cuda")
                descale = torch.tensor([[scale]], device="cuda")  # any rank, one element
                expected = storage.clone()
                flash_mla_ts.write_kv(cache, rows, slots, descale=descale)
                kept = slots >= 0
                pages, in_page = slots[kept] // page_size, slots[kept] % page_size
                expected[pages.long(), in_page.long()] = reference_e4m3(rows[kept], descale)
                self.assertTrue(torch.equal(storage, expected))


@unittest.skipIf(FP8_PROBLEM, FP8_PROBLEM)
class Fp8WriteArgumentTest(unittest.TestCase):
    """Refusals before the library (CPU tensors: every check but the device's runs first)."""

    def test_wrong_combinations_name_the_argument(self):
        fp8 = torch.zeros(4, 16, 1, 656, dtype=torch.float8_e4m3fn)
        bf16_cache = torch.zeros(4, 16, 1, 576, dtype=torch.bfloat16)
        rows = torch.zeros(2, 1, 576, dtype=torch.bfloat16)
        slots = torch.zeros(2, dtype=torch.int32)
        scale = torch.ones(1)
        cases = [
            ("descale", lambda: flash_mla_ts.write_kv(fp8, rows, slots, is_fp8_kvcache=True,
                                                      descale=scale)),
            ("is_fp8_kvcache", lambda: flash_mla_ts.write_kv(fp8, rows, slots,
                                                             is_fp8_kvcache="yes")),
            ("cache", lambda: flash_mla_ts.write_kv(bf16_cache, rows, slots,
                                                    is_fp8_kvcache=True)),
            ("cache", lambda: flash_mla_ts.write_kv(bf16_cache, rows, slots, descale=scale)),
            ("rows", lambda: flash_mla_ts.write_kv(fp8, rows.float(), slots,
                                                   is_fp8_kvcache=True)),
            ("descale", lambda: flash_mla_ts.write_kv(fp8, rows, slots, descale=torch.ones(2))),
            ("descale", lambda: flash_mla_ts.write_kv(fp8, rows, slots,
                                                      descale=torch.ones(1).double())),
            ("descale", lambda: flash_mla_ts.write_kv(fp8, rows, slots, descale=0.5)),
        ]
        for argument, call in cases:
            with self.subTest(argument=argument):
                with self.assertRaises(flash_mla_ts.ArgumentError) as caught:
                    call()
                self.assertEqual(caught.exception.argument, argument)


if __name__ == "__main__":
    unittest.main()
