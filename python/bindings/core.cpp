// fedsilo._core: the C++ engine for the Python package (python/fedsilo/). The pure-Python layer
// gives FedML's names; this module only crosses the language line. Tensors cross as the same
// at::Tensor (torch/extension.h), so nothing is copied; every call that runs the engine
// releases the GIL, and the engine takes it only to call back into Python.
#include <torch/extension.h>

#include <cstdlib>

#include "core/args_json.h"
#include "core/command_line.h"
#include "fedsilo/fedsilo.h"
#include "py_components.h"
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

// A data set built in Python, as (x, y) tensors, checked before the engine trusts it.
TensorData data_from(const py::object& xy, int64_t class_num, const std::string& what) {
  if (xy.is_none()) return {};
  auto t = xy.cast<py::tuple>();
  if (t.size() != 2) throw ConfigError(what + ": expected (x, y)");
  TensorData d{t[0].cast<torch::Tensor>(), t[1].cast<torch::Tensor>()};
  if (d.y.dim() != 1 || d.y.scalar_type() != torch::kInt64)
    throw ConfigError(what + ": labels must be one int64 class id per sample");
  if (d.x.dim() < 1 || d.x.size(0) != d.y.size(0)) {
    throw ConfigError(what + ": " + std::to_string(d.x.dim() ? d.x.size(0) : 0) + " inputs but " +
                      std::to_string(d.y.size(0)) + " labels");
  }
  if (d.y.numel() > 0 &&
      (d.y.min().item<int64_t>() < 0 || d.y.max().item<int64_t>() >= class_num)) {
    throw ConfigError(what + ": a label is outside [0, class_num = " + std::to_string(class_num) +
                      ")");
  }
  d.x = d.x.detach().to(torch::kCPU).contiguous();
  d.y = d.y.detach().to(torch::kCPU).contiguous();
  return d;
}

FederatedDataset dataset_from(int64_t train_num, int64_t test_num, const py::object& train_global,
                              const py::object& test_global,
                              const std::map<int64_t, int64_t>& local_num,
                              const std::map<int64_t, py::object>& train_local,
                              const std::map<int64_t, py::object>& test_local, int64_t class_num) {
  if (class_num < 1) throw ConfigError("dataset: class_num must be >= 1");
  FederatedDataset d;
  d.train_data_num = train_num;
  d.test_data_num = test_num;
  d.class_num = class_num;
  d.train_data_global = data_from(train_global, class_num, "dataset[2] (train_data_global)");
  d.test_data_global = data_from(test_global, class_num, "dataset[3] (test_data_global)");
  for (const auto& [k, xy] : train_local) {
    auto what = "dataset[5] (train_data_local_dict) silo " + std::to_string(k);
    d.train_data_local_dict[k] = data_from(xy, class_num, what);
    auto it = local_num.find(k);
    int64_t n = d.train_data_local_dict[k].size();
    if (it == local_num.end() || it->second != n) {
      throw ConfigError(what + " holds " + std::to_string(n) +
                        " samples; dataset[4] (train_data_local_num_dict) says " +
                        (it == local_num.end() ? "nothing" : std::to_string(it->second)));
    }
    d.train_data_local_num_dict[k] = n;
  }
  for (const auto& [k, xy] : test_local)
    d.test_data_local_dict[k] =
        data_from(xy, class_num, "dataset[6] (test_data_local_dict) silo " + std::to_string(k));
  return d;
}

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
  m.def("make_dataset", &dataset_from,
        "FedML's 8 items as tensors: (x, y) pairs for the global and per-silo data, checked");
  m.def(
      "load_cross_silo",
      [](const Args& a) {
        py::gil_scoped_release release;
        return data::load_cross_silo(a).first;
      },
      "The data set the config names, partitioned over client_num_in_total data silos");

  m.def(
      "simulate",
      [](const Args& a, const FederatedDataset& dataset, py::object make_model, py::object trainer,
         py::object rule, py::object tester, py::object make_loader, py::object device,
         py::object py_args, py::object test_data) {
        auto make = model_maker(std::move(make_model));
        SimulateOptions o;
        if (!trainer.is_none())
          o.trainer = python::trainer_factory(trainer, make_loader, device, py_args);
        if (!rule.is_none()) {
          auto agg = std::make_shared<python::PyRef>(rule);
          o.aggregator = [agg](const Args&) { return python::aggregator_of(agg->get()); };
        }
        if (!tester.is_none())
          o.evaluator = python::evaluator_of(tester, test_data, device, py_args);
        RunSummary s;
        {
          py::gil_scoped_release release;
          s = simulate(a, dataset, make, o);
        }
        return py::make_tuple(s.output_dir, s.final_metrics.dump(), s.wall_s);
      },
      py::arg("args"), py::arg("dataset"), py::arg("make_model"), py::arg("trainer") = py::none(),
      py::arg("rule") = py::none(), py::arg("tester") = py::none(),
      py::arg("make_loader") = py::none(), py::arg("device") = py::none(),
      py::arg("py_args") = py::none(), py::arg("test_data") = py::none(),
      "The server and every silo in this process; make_model() returns a fresh torch.nn.Module");

  m.def(
      "run_server",
      [](const Args& a, const std::string& device, const FederatedDataset& dataset,
         py::object model, py::object rule, py::object tester, py::object device_obj,
         py::object py_args, py::object test_data) {
        auto made = python::model_of(std::move(model));
        cross_silo::hierarchical::Server server(a, torch::Device(device), dataset, made);
        if (!rule.is_none()) server.with_aggregator(python::aggregator_of(rule));
        if (!tester.is_none())
          server.with_evaluator(python::evaluator_of(tester, test_data, device_obj, py_args));
        py::gil_scoped_release release;
        return server.run();
      },
      py::arg("args"), py::arg("device"), py::arg("dataset"), py::arg("model"),
      py::arg("rule") = py::none(), py::arg("tester") = py::none(),
      py::arg("device_obj") = py::none(), py::arg("py_args") = py::none(),
      py::arg("test_data") = py::none(), "Runs the server; returns the exit code");
  m.def(
      "run_client",
      [](const Args& a, const std::string& device, const FederatedDataset& dataset,
         py::object model, py::object trainer, py::object make_loader, py::object device_obj,
         py::object py_args) {
        auto made = python::model_of(std::move(model));
        cross_silo::hierarchical::Client client(a, torch::Device(device), dataset, made);
        if (!trainer.is_none())
          client.with_trainer(python::trainer_factory(trainer, make_loader, device_obj, py_args));
        py::gil_scoped_release release;
        return client.run();
      },
      py::arg("args"), py::arg("device"), py::arg("dataset"), py::arg("model"),
      py::arg("trainer") = py::none(), py::arg("make_loader") = py::none(),
      py::arg("device_obj") = py::none(), py::arg("py_args") = py::none(),
      "Runs this silo's trainer (or, with several trainers per node, its launcher); returns the "
      "exit code");
}
