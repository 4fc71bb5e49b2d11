// flash_mla_ts._fast_decode: the decode call of the Python binding in C++, for host time.
//
// attention.py's _decode_eager checks every argument, allocates out, lse and a workspace with torch
// and calls fmla_mla_decode / fmla_gqa_decode through ctypes: about 40 us of Python a call on the
// H200 machine, four times the library's own 10.8 us. This module does the same for the calls it
// can take at once (every tensor a plain torch.Tensor of the right dtype, rank and layout on one
// CUDA device, the numbers of the exact Python types) and returns None for any other, so that
// attention.py's checked path raises the typed error naming the argument. It is built against the
// installed torch (python/native_build.py) and refused by _fast.py for any other torch version.
//
// The workspace (partial results of split sequences, read back by the combine kernel of the same
// call) is kept per device and stream and reused, growing when a call needs more: work on one
// stream runs in order, so a call never finds the previous one still using it. Under CUDA graph
// capture each call allocates its own (from the graph's pool), since a replay may run after the
// kept one was replaced.
#include <Python.h>

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/core/DeviceGuard.h>
#include <torch/csrc/Exceptions.h>
#include <torch/csrc/autograd/python_variable.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <map>
#include <utility>

#include "flash_mla.h"

#ifndef FMLA_TORCH_VERSION
#error "FMLA_TORCH_VERSION (the torch.__version__ this module is built against) must be defined"
#endif

namespace {

// The library's entry points, set by bind() from the addresses of the loaded libflashmla.so (the
// one ctypes loaded: one library, one set of kernels and device state in the process).
decltype(&fmla_mla_decode) mla_decode = nullptr;
decltype(&fmla_gqa_decode) gqa_decode = nullptr;
decltype(&fmla_decode_workspace_bytes) workspace_bytes = nullptr;
// torch._C._cuda_getCurrentRawStream and torch._C._cuda_isCurrentStreamCapturing, set by bind().
PyObject* raw_stream = nullptr;
PyObject* stream_capturing = nullptr;

// (device, stream) -> bytes. Never destroyed: torch's allocator may be gone when static
// destructors run at exit.
auto& kept_workspaces = *new std::map<std::pair<int, void*>, at::Tensor>();

enum Slot { kQ, kK, kV, kTable, kSeqlens, kMetadata, kSplits, kOut, kLse, kSlots };

int32_t dtype_code(c10::ScalarType type) {
  switch (type) {
    case c10::ScalarType::Float: return FMLA_DTYPE_FLOAT32;
    case c10::ScalarType::BFloat16: return FMLA_DTYPE_BFLOAT16;
    case c10::ScalarType::Half: return FMLA_DTYPE_FLOAT16;
    case c10::ScalarType::Int: return FMLA_DTYPE_INT32;
    default: return -1;
  }
}

// A plain torch.Tensor of `type` with `ndim` dims on CUDA device `*device` (the first tensor sets
// it), its last dim contiguous (all of it with `contiguous`), as the fmla_tensor view `*view`;
// false for anything else (attention.py then says what is wrong).
bool view_of(PyObject* obj, c10::ScalarType type, int64_t ndim, bool contiguous,
             c10::DeviceIndex* device, fmla_tensor* view, const at::Tensor** tensor) {
  if (!THPVariable_CheckExact(obj)) return false;
  const at::Tensor& t = THPVariable_Unpack(obj);
  if (t.scalar_type() != type || t.dim() != ndim || !t.is_cuda()) return false;
  const c10::DeviceIndex index = t.get_device();
  if (*device < 0) {
    *device = index;
  } else if (index != *device) {
    return false;
  }
  const c10::IntArrayRef shape = t.sizes(), strides = t.strides();
  if (contiguous ? !t.is_contiguous() : (ndim > 0 && shape[ndim - 1] > 1 && strides[ndim - 1] != 1))
    return false;
  view->data = t.data_ptr();
  view->dtype = dtype_code(type);
  view->ndim = static_cast<int32_t>(ndim);
  for (int64_t i = 0; i < ndim; ++i) {
    view->shape[i] = shape[i];
    view->strides[i] = strides[i];
  }
  if (tensor) *tensor = &t;
  return true;
}

// The view of a tensor allocated here, contiguous.
void view_new(const at::Tensor& t, fmla_tensor* view) {
  view->data = t.data_ptr();
  view->dtype = dtype_code(t.scalar_type());
  view->ndim = static_cast<int32_t>(t.dim());
  int64_t stride = 1;
  for (int64_t i = t.dim() - 1; i >= 0; --i) {
    view->shape[i] = t.size(i);
    view->strides[i] = stride;
    stride *= t.size(i);
  }
}

// A Python call returning an int (an address or a flag); false with the Python error set when it
// fails.
bool call_int(PyObject* fn, PyObject* arg, uintptr_t* result) {
  PyObject* value = PyObject_CallFunctionObjArgs(fn, arg, nullptr);
  if (!value) return false;
  *result = static_cast<uintptr_t>(PyLong_AsUnsignedLongLongMask(value));
  Py_DECREF(value);
  return !PyErr_Occurred();
}

// The workspace of a call on (device, stream): the kept one when it is large enough and no graph
// is being captured, else a new one (kept unless capturing).
bool workspace_for(const at::Tensor& q, int device, void* stream, size_t bytes,
                   at::Tensor* workspace) {
  uintptr_t capturing = 0;
  if (!call_int(stream_capturing, nullptr, &capturing)) return false;
  const int64_t size = static_cast<int64_t>(bytes > 0 ? bytes : 1);
  if (capturing) {
    *workspace = at::empty({size}, q.options().dtype(at::kByte));
    return true;
  }
  at::Tensor& kept = kept_workspaces[{device, stream}];
  if (!kept.defined() || kept.numel() < size) {
    kept = at::Tensor();  // released first, so that the allocator may hand the block back
    kept = at::empty({size}, q.options().dtype(at::kByte));
  }
  *workspace = kept;
  return true;
}

// decode(mla, q, k_cache, v_cache, block_table, cache_seqlens, head_dim_v, metadata, num_splits,
//        softmax_scale, causal, out, lse) -> (out, lse) | None | int status
// mla: True for fmla_mla_decode (v_cache None), False for fmla_gqa_decode (head_dim_v None).
PyObject* decode(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  HANDLE_TH_ERRORS
  if (nargs != 13 || !mla_decode) Py_RETURN_NONE;
  const bool mla = args[0] == Py_True;
  PyObject *py_out = args[11], *py_lse = args[12], *py_scale = args[9], *py_causal = args[10];
  fmla_tensor views[kSlots] = {};
  c10::DeviceIndex device = -1;
  const at::Tensor* q = nullptr;
  if (!THPVariable_CheckExact(args[1])) Py_RETURN_NONE;
  const c10::ScalarType half = THPVariable_Unpack(args[1]).scalar_type();
  if (half != c10::ScalarType::BFloat16 && half != c10::ScalarType::Half) Py_RETURN_NONE;
  const c10::ScalarType i32 = c10::ScalarType::Int;
  if (!view_of(args[1], half, 4, false, &device, &views[kQ], &q) ||
      !view_of(args[2], half, 4, false, &device, &views[kK], nullptr) ||
      (mla ? args[3] != Py_None : !view_of(args[3], half, 4, false, &device, &views[kV], nullptr)) ||
      !view_of(args[4], i32, 2, false, &device, &views[kTable], nullptr) ||
      !view_of(args[5], i32, 1, false, &device, &views[kSeqlens], nullptr) ||
      !view_of(args[7], i32, 2, true, &device, &views[kMetadata], nullptr) ||
      !view_of(args[8], i32, 1, true, &device, &views[kSplits], nullptr) ||
      (py_out != Py_None && !view_of(py_out, half, 4, false, &device, &views[kOut], nullptr)) ||
      (py_lse != Py_None &&
       !view_of(py_lse, c10::ScalarType::Float, 3, false, &device, &views[kLse], nullptr)))
    Py_RETURN_NONE;
  const int64_t b = views[kQ].shape[0], s_q = views[kQ].shape[1], h_q = views[kQ].shape[2];
  const int64_t d_qk = views[kQ].shape[3];
  int64_t d_v = d_qk;
  if (mla) {
    if (!PyLong_CheckExact(args[6])) Py_RETURN_NONE;
    int overflow = 0;
    d_v = PyLong_AsLongLongAndOverflow(args[6], &overflow);
    if (overflow || d_v < 1 || d_v > d_qk) Py_RETURN_NONE;
  }
  double scale = std::pow(static_cast<double>(d_qk), -0.5);  // as Python's d_qk ** -0.5
  if (py_scale != Py_None) {
    if (!PyFloat_CheckExact(py_scale)) Py_RETURN_NONE;
    scale = PyFloat_AS_DOUBLE(py_scale);
    if (!(scale >= -FLT_MAX && scale <= FLT_MAX)) Py_RETURN_NONE;
  }
  if (py_causal != Py_True && py_causal != Py_False) Py_RETURN_NONE;

  const c10::DeviceGuard guard(c10::Device(c10::DeviceType::CUDA, device));
  PyObject* index = PyLong_FromLong(device);
  if (!index) return nullptr;
  uintptr_t stream_address = 0;
  const bool have_stream = call_int(raw_stream, index, &stream_address);
  Py_DECREF(index);
  if (!have_stream) return nullptr;
  void* stream = reinterpret_cast<void*>(stream_address);

  at::Tensor out, lse, workspace;
  if (py_out == Py_None) {
    out = at::empty({b, s_q, h_q, d_v}, q->options());
    view_new(out, &views[kOut]);
  }
  if (py_lse == Py_None) {
    lse = at::empty({b, h_q, s_q}, q->options().dtype(at::kFloat));
    view_new(lse, &views[kLse]);
  }
  const size_t bytes = workspace_bytes(b, s_q, h_q, d_v, views[kMetadata].shape[0]);
  if (bytes == SIZE_MAX) Py_RETURN_NONE;  // the checked path reports the size
  if (!workspace_for(*q, device, stream, bytes, &workspace)) return nullptr;

  const int32_t causal = py_causal == Py_True ? 1 : 0;
  const fmla_status status =
      mla ? mla_decode(&views[kQ], &views[kK], &views[kTable], &views[kSeqlens],
                       static_cast<int32_t>(d_v), &views[kMetadata], &views[kSplits],
                       static_cast<float>(scale), causal, &views[kOut], &views[kLse],
                       workspace.data_ptr(), bytes, stream)
          : gqa_decode(&views[kQ], &views[kK], &views[kV], &views[kTable], &views[kSeqlens],
                       &views[kMetadata], &views[kSplits], static_cast<float>(scale), causal,
                       &views[kOut], &views[kLse], workspace.data_ptr(), bytes, stream);
  if (status != FMLA_OK) return PyLong_FromLong(status);
  PyObject* result = PyTuple_New(2);
  if (!result) return nullptr;
  PyObject* given_out = py_out;
  PyObject* given_lse = py_lse;
  PyTuple_SET_ITEM(result, 0, out.defined() ? THPVariable_Wrap(std::move(out))
                                            : (Py_INCREF(given_out), given_out));
  PyTuple_SET_ITEM(result, 1, lse.defined() ? THPVariable_Wrap(std::move(lse))
                                            : (Py_INCREF(given_lse), given_lse));
  return result;
  END_HANDLE_TH_ERRORS
}

// bind(mla_decode, gqa_decode, workspace_bytes, raw_stream, stream_capturing): the library's
// entry points (addresses) and torch's stream queries; called once by _fast.py.
PyObject* bind(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 5) {
    PyErr_SetString(PyExc_TypeError, "bind takes 5 arguments");
    return nullptr;
  }
  void* addresses[3];
  for (int i = 0; i < 3; ++i) {
    addresses[i] = PyLong_AsVoidPtr(args[i]);
    if (PyErr_Occurred()) return nullptr;
    if (!addresses[i]) {
      PyErr_SetString(PyExc_ValueError, "bind: a library entry point is NULL");
      return nullptr;
    }
  }
  Py_INCREF(args[3]);
  Py_INCREF(args[4]);
  Py_XSETREF(raw_stream, args[3]);
  Py_XSETREF(stream_capturing, args[4]);
  mla_decode = reinterpret_cast<decltype(mla_decode)>(addresses[0]);
  gqa_decode = reinterpret_cast<decltype(gqa_decode)>(addresses[1]);
  workspace_bytes = reinterpret_cast<decltype(workspace_bytes)>(addresses[2]);
  Py_RETURN_NONE;
}

// release_workspaces() -> int: drops the kept workspaces (to torch's allocator); their bytes.
PyObject* release_workspaces(PyObject*, PyObject*) {
  HANDLE_TH_ERRORS
  int64_t bytes = 0;
  for (const auto& kept : kept_workspaces) bytes += kept.second.numel();
  kept_workspaces.clear();
  return PyLong_FromLongLong(bytes);
  END_HANDLE_TH_ERRORS
}

PyMethodDef methods[] = {
    {"decode", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(decode)),
     METH_FASTCALL, "The decode call for arguments it can take at once; None for others."},
    {"bind", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(bind)), METH_FASTCALL,
     "Sets the library's entry points and torch's stream queries."},
    {"release_workspaces", release_workspaces, METH_NOARGS,
     "Drops the kept workspaces; returns their bytes."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fast_decode", nullptr, -1, methods,
                      nullptr, nullptr, nullptr, nullptr};

}  // namespace

PyMODINIT_FUNC PyInit__fast_decode() {
  PyObject* m = PyModule_Create(&module);
  if (m && PyModule_AddStringConstant(m, "built_for_torch", FMLA_TORCH_VERSION) < 0) {
    Py_DECREF(m);
    return nullptr;
  }
  return m;
}
