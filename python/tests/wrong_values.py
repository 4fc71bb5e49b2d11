"""Random replacement values for one argument of a valid call, by the kind of argument, for the
property tests of the argument checks (test_argument_errors.py).

Each kind's draw(rng, valid, on_gpu) returns (value, must_name). must_name is True where the binding
itself has to refuse the value with an ArgumentError naming this argument, before any other check;
False where the value may be valid, or is refused by a check that compares it with another argument
(the library's shape checks, the device check), or asks for a feature this library lacks.

On a GPU every tensor drawn must be safe to hand to the kernels should the call pass: dimensions
that index memory through the block table (k_cache's pages and page size, block_table's columns)
only grow there, and the schedule's rows are not resized.
"""

import math

import torch

from flash_mla_ts import FlashMLASchedMeta
from flash_mla_ts.schedule import ScheduleConfig

# Values of no argument's kind: strings (which messages must quote), containers, objects.
NOT_VALUES = ("8", "", "0.5", "True", "None", "q", b"8", [8], [], (2, 3), {}, {"q": 1}, object(),
              int, 1j)
NUMBERS = (0, 1, 8, -1, 0.5, math.nan, math.inf, True, False, 2**31, 2**63)
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32,
          torch.int16, torch.int8, torch.uint8, torch.bool, torch.complex64]
if getattr(torch, "float8_e4m3fn", None) is not None:
    DTYPES.append(torch.float8_e4m3fn)


def filled(shape, dtype, device):
    """A tensor to stand in for another: small values for floats, zeros (page 0, length 0, slot 0)
    for integers, which every kernel reads safely."""
    if dtype.is_floating_point and dtype.itemsize >= 2:
        return (torch.randn(shape, device=device) / 10).to(dtype)
    return torch.zeros(shape, dtype=dtype, device=device)


class TensorArg:
    """A tensor argument: `allowed` dtypes (any other one is refused by name); `contiguous` when
    the whole tensor must be dense (else only its last dimension); `optional` when None is valid.
    `example`: a valid tensor to vary where the valid call passes None. `grow_only` and
    `fixed`: dimensions that only grow, or keep their size, in draws on a GPU. `placed`: the call
    checks the tensor's device (a constructor does not). `operator`: an argument of a torch
    operator, whose schema refuses non-tensors itself."""

    def __init__(self, allowed, *, contiguous=False, optional=False, example=None, grow_only=(),
                 fixed=(), placed=True, operator=False):
        self.allowed = allowed
        self.contiguous = contiguous
        self.optional = optional
        self.example = example
        self.grow_only = grow_only
        self.fixed = fixed
        self.placed = placed
        self.operator = operator

    def draw(self, rng, valid, on_gpu):
        if valid is None:
            valid = self.example
        ways = ["dtype", "rank", "last_stride", "outer_stride", "resize", "same"]
        if not self.operator:
            ways += ["type", "type", "device"]
        way = rng.choice(ways)
        if way == "type":
            value = rng.choice(NOT_VALUES + NUMBERS + (None,))
            return value, not (value is None and self.optional)
        if way == "dtype":
            dtype = rng.choice([d for d in DTYPES if d != valid.dtype])
            return valid.to(dtype), dtype not in self.allowed
        if way == "last_stride" and valid.dim() and valid.shape[-1] > 1:
            wide = torch.zeros(*valid.shape[:-1], 2 * valid.shape[-1], dtype=valid.dtype,
                               device=valid.device)
            wide[..., ::2] = valid
            return wide[..., ::2], True
        if way == "outer_stride" and valid.dim() >= 2:
            value = torch.cat([valid, valid])[::2]  # same shape and values, every other row
            return value, self.contiguous and not value.is_contiguous()
        if way == "resize":
            return self.resized(rng, valid, on_gpu), False
        if way == "device":
            # Off the GPU every tensor is off CUDA already, and the device check names the first.
            return (valid.cpu(), self.placed) if on_gpu else (valid.to("meta"), False)
        if way == "same":
            return (None if self.optional and rng.random() < 0.5 else valid.clone()), False
        return self.reranked(rng, valid), True

    @staticmethod
    def reranked(rng, valid):
        way = rng.choice(["unsqueeze", "flatten", "select", "scalar"])
        if way == "flatten" and valid.dim() > 1:
            return valid.flatten()
        if way == "select" and valid.dim() > 1 and valid.shape[0] > 0:
            return valid[0]
        if way == "scalar":
            return torch.zeros((), dtype=valid.dtype, device=valid.device)
        return valid.unsqueeze(rng.randrange(valid.dim() + 1))

    def resized(self, rng, valid, on_gpu):
        dims = [d for d in range(valid.dim()) if not (on_gpu and d in self.fixed)]
        shape = list(valid.shape)
        if not dims:
            return valid.clone()
        dim = rng.choice(dims)
        size = shape[dim]
        if on_gpu and dim in self.grow_only:
            shape[dim] = size + rng.randint(1, 3)
        else:
            shape[dim] = rng.choice([s for s in (0, 1, size - 1, size + 1, 2 * size)
                                     if s != size and s >= 0])
        return filled(shape, valid.dtype, valid.device)


class IntArg:
    """An int in [minimum, maximum] (None valid with `optional`); `operator`: ints only (the
    schema refuses other types, and ints beyond int64)."""

    def __init__(self, minimum, maximum, *, optional=False, operator=False):
        self.minimum = minimum
        self.maximum = maximum
        self.optional = optional
        self.operator = operator

    def draw(self, rng, valid, on_gpu):
        lo, hi = self.minimum, self.maximum
        in_range = rng.randint(lo, min(hi, max(2 * (valid or lo), lo + 1)))
        out_of_range = [lo - 1, lo - rng.randint(1, 2**40), hi + 1, hi + rng.randint(1, 2**40),
                        -2**63]
        if rng.random() < 0.3:
            return (None, False) if self.optional and rng.random() < 0.3 else (in_range, False)
        if self.operator:
            return rng.choice(out_of_range), True
        wrong_type = [str(valid or lo), "8", float(valid or lo), 0.5, math.nan, True, False,
                      [valid], (valid,), torch.tensor(valid or lo), 2**64, 10**30, b"8", 1j]
        if not self.optional:
            wrong_type.append(None)
        return rng.choice(out_of_range + wrong_type), True


class ScaleArg:
    """softmax_scale: None or a real number finite as a float32."""

    def __init__(self, *, operator=False):
        self.operator = operator

    def draw(self, rng, valid, on_gpu):
        if rng.random() < 0.3:
            choices = [rng.uniform(-1.0, 1.0), 0.0, 2.0, 1e-3]
            if not self.operator:
                choices += [None, 1, rng.randint(1, 4)]
            return rng.choice(choices), False
        bad = [math.nan, math.inf, -math.inf, 1e39, -1e39, 1e300]
        if not self.operator:
            bad += ["8", "0.125", "", 10**400, True, False, [0.1], torch.tensor(0.1), 1j, b"1"]
        return rng.choice(bad), True


class FlagArg:
    """A bool (0 and 1 pass for False and True)."""

    def draw(self, rng, valid, on_gpu):
        if rng.random() < 0.3:
            return rng.choice([True, False, 0, 1]), False
        return rng.choice(["False", "True", "", "0", None, 2, -1, 0.0, 1.0, 0.5, [True], (),
                           torch.tensor(True), b""]), True


class RefusedTensorArg:
    """A keyword for a missing feature that takes a tensor: None passes, a tensor is refused as
    the feature (NotImplementedError), anything else as an argument."""

    def draw(self, rng, valid, on_gpu):
        way = rng.random()
        if way < 0.2:
            return None, False
        if way < 0.5:
            return torch.zeros(2, 1, 4, dtype=torch.int32), False
        return rng.choice(NOT_VALUES + NUMBERS), True


class DescaleArg(RefusedTensorArg):
    """descale_k of the MLA decode: None passes; a tensor selects an fp8_e4m3 cache (and is
    refused, by any argument's name, unless the call is one); anything else is refused by name."""


class RefusedIntArg:
    """topk: None passes, an int >= 1 asks for sparse attention, anything else is refused."""

    def draw(self, rng, valid, on_gpu):
        way = rng.random()
        if way < 0.2:
            return None, False
        if way < 0.5:
            return rng.randint(1, 4096), False
        return rng.choice(NOT_VALUES + (0, -1, 2**31, 0.5, math.nan, True, False)), True


class ScheduleObjectArg:
    """tile_scheduler_metadata in FlashMLA's current convention: a FlashMLASchedMeta. A tensor is
    the other convention (then num_splits, None here, is what is refused)."""

    def __init__(self, tensor):
        self.tensor = tensor

    def draw(self, rng, valid, on_gpu):
        way = rng.random()
        if way < 0.2:
            return FlashMLASchedMeta(num_sms=rng.choice([None, 1, 7, 132])), False
        if way < 0.4:
            return self.tensor.clone(), False
        return rng.choice(NOT_VALUES + NUMBERS + (None,)), True


class NoneOnlyArg:
    """num_splits with a FlashMLASchedMeta: None only (the object holds its own)."""

    def __init__(self, tensor):
        self.tensor = tensor

    def draw(self, rng, valid, on_gpu):
        if rng.random() < 0.2:
            return None, False
        return rng.choice(NOT_VALUES + NUMBERS + (self.tensor.clone(),)), True


class ConfigArg:
    """FlashMLASchedMeta.config: None or a FlashMLASchedMeta.Config."""

    def draw(self, rng, valid, on_gpu):
        if rng.random() < 0.3:
            return rng.choice([None, ScheduleConfig(2, 1, 16, 16, 1, False, False, None, None,
                                                    None)]), False
        return rng.choice(NOT_VALUES + NUMBERS + ((2, 1, 16, 16, 1, False, False, None, None,
                                                   None),)), True
