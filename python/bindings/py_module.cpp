#include "py_module.h"

#include "fedsilo/error.h"

namespace py = pybind11;

namespace fedsilo::python {

PyRef::PyRef(const PyRef& other) {
  py::gil_scoped_acquire gil;
  o_ = other.o_;
}

PyRef& PyRef::operator=(const PyRef& other) {
  if (this != &other) {
    py::gil_scoped_acquire gil;
    o_ = other.o_;
  }
  return *this;
}

PyRef::~PyRef() {
  if (!o_) return;
  py::gil_scoped_acquire gil;
  o_ = py::object();
}

namespace {

// One level of the Python module tree: its parameters and persistent buffers (as
// torch.nn.Module.state_dict() lists them), and its children.
class Mirror : public torch::nn::Module {
 public:
  explicit Mirror(const py::object& m)
      : torch::nn::Module(py::str(m.attr("__class__").attr("__name__"))) {
    py::set non_persistent = m.attr("_non_persistent_buffers_set");
    for (auto item : m.attr("_parameters").cast<py::dict>()) {
      if (item.second.is_none()) continue;
      auto t = item.second.cast<torch::Tensor>();
      register_parameter(item.first.cast<std::string>(), t, t.requires_grad());
    }
    for (auto item : m.attr("_buffers").cast<py::dict>()) {
      if (item.second.is_none() || non_persistent.contains(item.first)) continue;
      register_buffer(item.first.cast<std::string>(), item.second.cast<torch::Tensor>());
    }
    for (auto item : m.attr("_modules").cast<py::dict>()) {
      if (item.second.is_none()) continue;
      register_module(item.first.cast<std::string>(),
                      std::make_shared<Mirror>(py::reinterpret_borrow<py::object>(item.second)));
    }
  }
};

class PyModuleImpl : public Mirror {
 public:
  explicit PyModuleImpl(const py::object& m) : Mirror(m), module_(m) {}
  torch::Tensor forward(torch::Tensor x) {
    py::gil_scoped_acquire gil;
    return module_.get()(x).cast<torch::Tensor>();
  }
  // The Python module's own mode too: dropout and batch norm read it.
  void train(bool on) override {
    torch::nn::Module::train(on);
    py::gil_scoped_acquire gil;
    module_.get().attr("train")(on);
  }

 private:
  PyRef module_;
};

}  // namespace

Model model_of(py::object module) {
  py::gil_scoped_acquire gil;
  py::module_ torch_nn = py::module_::import("torch.nn");
  if (!py::isinstance(module, torch_nn.attr("Module")))
    throw ConfigError("the model must be a torch.nn.Module (got " +
                      std::string(py::str(module.attr("__class__").attr("__name__"))) + ")");
  auto impl = std::make_shared<PyModuleImpl>(module);
  if (impl->parameters().empty())
    throw ConfigError("the model " + impl->name() + " has no parameters to train");
  return Model(impl);
}

}  // namespace fedsilo::python
