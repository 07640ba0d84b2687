#pragma once
// A Python torch.nn.Module as the engine's Model: the C++ module tree mirrors the Python one
// (same names, so state dicts match what Python's state_dict() calls them), and its parameters
// and buffers are the Python module's own tensors, not copies. The engine trains, loads and
// saves them in place; forward() calls the Python module (taking the GIL).
#include <torch/extension.h>

#include "fedsilo/model.h"

namespace fedsilo::python {

// Holds a Python object; drops its reference with the GIL held, whichever thread destroys it.
class PyRef {
 public:
  PyRef() = default;
  explicit PyRef(pybind11::object o) : o_(std::move(o)) {}
  PyRef(const PyRef& other);
  PyRef& operator=(const PyRef& other);
  ~PyRef();
  const pybind11::object& get() const { return o_; }

 private:
  pybind11::object o_;
};

// The Model for `module` (a torch.nn.Module). Throws ConfigError when it has no parameters.
Model model_of(pybind11::object module);

}  // namespace fedsilo::python
