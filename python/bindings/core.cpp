// fedsilo._core: the C++ engine for the Python package (python/fedsilo/). The pure-Python layer
// gives FedML's names; this module only crosses the language line. Tensors cross as the same
// at::Tensor (torch/extension.h), so nothing is copied; every call that runs the engine
// releases the GIL, and the engine takes it only to call back into Python.
#include <torch/extension.h>

#include <cstdlib>

#include "core/args_json.h"
#include "core/command_line.h"
#include "fedsilo/fedsilo.h"
#include "py_module.h"

namespace py = pybind11;
using namespace fedsilo;

namespace {

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> ptrs;
  for (const auto& a : argv) ptrs.push_back(const_cast<char*>(a.c_str()));
  ptrs.push_back(nullptr);
  return ptrs;
}

Args init_from_argv(const std::vector<std::string>& argv) {
  // The Python interpreter has threads of its own: a silo's trainers are started by the
  // launcher as new processes, never forked from this one.
  ::setenv("FEDSILO_FORK_TRAINERS", "0", 1);
  auto ptrs = c_argv(argv);
  return fedsilo::init(static_cast<int>(argv.size()), ptrs.data());
}

Args parse_argv(const std::vector<std::string>& argv) {
  auto ptrs = c_argv(argv);
  return parse_command_line(static_cast<int>(argv.size()), ptrs.data());
}

py::tuple data_of(const TensorData& d) { return py::make_tuple(d.x, d.y); }

std::function<Model()> model_maker(py::object make_model) {
  auto ref = std::make_shared<python::PyRef>(std::move(make_model));
  return [ref] {
    py::gil_scoped_acquire gil;
    return python::model_of(ref->get()());
  };
}

// Python exceptions raised in the engine's calls back into Python, and the engine's own errors,
// reach Python as RuntimeError with their message; ConfigError / DataError as ValueError.
void translate_errors(py::module_& m) {
  static py::exception<ConfigError> config_error(m, "ConfigError", PyExc_ValueError);
  static py::exception<DataError> data_error(m, "DataError", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ConfigError& e) {
      config_error(e.what());
    } catch (const DataError& e) {
      data_error(e.what());
    }
  });
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "fedsilo's C++ engine (use the fedsilo package, not this module)";
  translate_errors(m);

  py::class_<Args>(m, "Args")
      .def("to_json", [](const Args& a) { return args_to_json(a).dump(); })
      .def_readonly("rank", &Args::rank)
      .def_readonly("run_id", &Args::run_id)
      .def("run_output_dir", &Args::run_output_dir);
  m.def("init", &init_from_argv, py::arg("argv"),
        "FedML's command line (--cf, --rank, --node_rank, --run_id, --set): the checked config; "
        "sets up logging");
  m.def("parse", &parse_argv, py::arg("argv"), "The same without setting up logging again");
  m.def(
      "get_device", [](const Args& a) { return device::get_device(a).str(); },
      "The torch device this process trains on (device_args)");

  py::class_<FederatedDataset>(m, "FederatedDataset")
      .def_readonly("train_data_num", &FederatedDataset::train_data_num)
      .def_readonly("test_data_num", &FederatedDataset::test_data_num)
      .def_readonly("class_num", &FederatedDataset::class_num)
      .def_readonly("train_data_local_num_dict", &FederatedDataset::train_data_local_num_dict)
      .def("train_data_global",
           [](const FederatedDataset& d) { return data_of(d.train_data_global); })
      .def("test_data_global",
           [](const FederatedDataset& d) { return data_of(d.test_data_global); })
      .def("train_data_local", [](const FederatedDataset& d,
                                  int64_t k) { return data_of(d.train_data_local_dict.at(k)); })
      .def("test_data_local", [](const FederatedDataset& d, int64_t k) {
        return data_of(d.test_data_local_dict.at(k));
      });
  m.def(
      "load_cross_silo",
      [](const Args& a) {
        py::gil_scoped_release release;
        return data::load_cross_silo(a).first;
      },
      "The data set the config names, partitioned over client_num_in_total data silos");

  m.def(
      "simulate",
      [](const Args& a, const FederatedDataset& dataset, py::object make_model) {
        auto make = model_maker(std::move(make_model));
        RunSummary s;
        {
          py::gil_scoped_release release;
          s = simulate(a, dataset, make);
        }
        return py::make_tuple(s.output_dir, s.final_metrics.dump(), s.wall_s);
      },
      py::arg("args"), py::arg("dataset"), py::arg("make_model"),
      "The server and every silo in this process; make_model() returns a fresh torch.nn.Module");

  m.def(
      "run_server",
      [](const Args& a, const std::string& device, const FederatedDataset& dataset,
         py::object model) {
        auto made = python::model_of(std::move(model));
        py::gil_scoped_release release;
        return cross_silo::hierarchical::Server(a, torch::Device(device), dataset, made).run();
      },
      "Runs the server; returns the exit code");
  m.def(
      "run_client",
      [](const Args& a, const std::string& device, const FederatedDataset& dataset,
         py::object model) {
        auto made = python::model_of(std::move(model));
        py::gil_scoped_release release;
        return cross_silo::hierarchical::Client(a, torch::Device(device), dataset, made).run();
      },
      "Runs this silo's trainer (or, with several trainers per node, its launcher); returns the "
      "exit code");
}
