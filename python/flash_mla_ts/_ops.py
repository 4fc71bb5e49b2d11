"""The entry points as torch operators (torch.ops.flash_mla_ts.*), for torch.compile.

Dynamo cannot trace into ctypes, so under torch.compile the public functions call these operators
instead: each has a CUDA implementation (the eager code) and a fake one that checks the arguments
and returns empty outputs of the right shapes, which is all the tracer needs. Outside torch.compile
the public functions skip the dispatcher and run the eager code directly (it costs several
microseconds a call).

Registered with torch.library.Library.define/impl rather than torch.library.custom_op: the same code
works on every torch that has Library (custom_op needs 2.4), a call through the operator skips
custom_op's Python layers, and the schemas state which arguments are written (out, lse, cache).
Where torch is missing or cannot register operators, `available` stays False and torch.compile
falls back to a graph break around each call.
"""

NAMESPACE = "flash_mla_ts"

_DECODE_MLA = (
    "Tensor q, Tensor k_cache, Tensor block_table, Tensor cache_seqlens, int head_dim_v, "
    "Tensor tile_scheduler_metadata, Tensor num_splits, float softmax_scale, bool causal"
)
_DECODE_GQA = (
    "Tensor q, Tensor k_cache, Tensor v_cache, Tensor block_table, Tensor cache_seqlens, "
    "Tensor tile_scheduler_metadata, Tensor num_splits, float softmax_scale, bool causal"
)

SCHEMAS = {
    "get_mla_metadata": (
        "(Tensor cache_seqlens, int num_q_tokens_per_head_k, int num_heads_k, int? num_sms) "
        "-> (Tensor, Tensor)"
    ),
    "mla_decode": f"({_DECODE_MLA}) -> (Tensor, Tensor)",
    "mla_decode_out": f"({_DECODE_MLA}, Tensor(a!) out, Tensor(b!) lse) -> ()",
    "gqa_decode": f"({_DECODE_GQA}) -> (Tensor, Tensor)",
    "gqa_decode_out": f"({_DECODE_GQA}, Tensor(a!) out, Tensor(b!) lse) -> ()",
    # fp8_e4m3 caches with their one-element float32 descales (descale_q: float8_e4m3fn queries)
    "gqa_decode_e4m3": (
        f"({_DECODE_GQA}, Tensor descale_k, Tensor descale_v, Tensor? descale_q) -> (Tensor, Tensor)"
    ),
    "gqa_decode_e4m3_out": (
        f"({_DECODE_GQA}, Tensor descale_k, Tensor descale_v, Tensor? descale_q, Tensor(a!) out, "
        "Tensor(b!) lse) -> ()"
    ),
    # FP8 MLA caches: format 1 (fp8_ds_mla, descale_k None) or 2 (fp8_e4m3 with its descale_k,
    # and descale_q with float8_e4m3fn queries)
    "mla_decode_fp8": (
        f"({_DECODE_MLA}, int format, Tensor? descale_k, Tensor? descale_q) -> (Tensor, Tensor)"
    ),
    "mla_decode_fp8_out": (
        f"({_DECODE_MLA}, int format, Tensor? descale_k, Tensor? descale_q, Tensor(a!) out, "
        "Tensor(b!) lse) -> ()"
    ),
    "write_kv": "(Tensor(a!) cache, Tensor rows, Tensor slot_mapping) -> ()",
    "write_kv_fp8": (
        "(Tensor(a!) cache, Tensor rows, Tensor slot_mapping, int format, Tensor? descale) -> ()"
    ),
}

available = False
# The registered operators (OpOverload), set by register(); module attributes so that Dynamo sees
# plain torch operators when it traces the public functions.
get_mla_metadata = None
mla_decode = None
mla_decode_out = None
gqa_decode = None
gqa_decode_out = None
gqa_decode_e4m3 = None
gqa_decode_e4m3_out = None
mla_decode_fp8 = None
mla_decode_fp8_out = None
write_kv = None
write_kv_fp8 = None

_library_handle = None  # the torch.library.Library: the registrations live as long as it does
problem = "not registered yet"


def _register_fake(torch, lib, name, fn):
    qualname = f"{NAMESPACE}::{name}"
    api = getattr(torch.library, "register_fake", None)  # torch >= 2.4
    if api is None:
        api = getattr(torch.library, "impl_abstract", None)  # torch 2.2, 2.3
    if api is not None:
        api(qualname, fn, lib=lib)
    else:  # older: a Meta kernel, which fake tensors fall back to
        lib.impl(name, fn, "Meta")


def _exists(torch, name):
    try:
        getattr(getattr(torch.ops, NAMESPACE), name)
    except Exception:
        return False
    return True


def register(torch, impls, fakes):
    """Defines the operators once per process, with impls[name] for CUDA and fakes[name] for
    tracing. Returns True when all of them are usable; on any failure records why in `problem`
    and leaves `available` False (the functions then run eagerly, graph-breaking under compile)."""
    global available, _library_handle, problem
    if torch is None:
        problem = "torch is not installed"
        return False
    try:
        if not all(_exists(torch, name) for name in SCHEMAS):
            try:
                lib = torch.library.Library(NAMESPACE, "FRAGMENT")
            except Exception:  # torch without FRAGMENT libraries
                lib = torch.library.Library(NAMESPACE, "DEF")
            for name, schema in SCHEMAS.items():
                if _exists(torch, name):  # defined by another copy of this package
                    continue
                lib.define(name + schema)
                lib.impl(name, impls[name], "CUDA")
                _register_fake(torch, lib, name, fakes[name])
            _library_handle = lib
        namespace = getattr(torch.ops, NAMESPACE)
        found = {name: getattr(namespace, name).default for name in SCHEMAS}
    except Exception as err:  # too old a torch, or a registration it refuses
        problem = f"torch could not register the operators: {type(err).__name__}: {err}"
        return False
    globals().update(found)
    available = True
    problem = None
    return True
