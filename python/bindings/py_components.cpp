#include "py_components.h"

#include <cmath>

#include "core/seed.h"
#include "fedsilo/error.h"

namespace py = pybind11;

namespace fedsilo::python {
namespace {

py::dict to_python(const StateDict& state) {
  py::dict d;
  for (const auto& [name, t] : state) d[py::str(name)] = t;
  return d;
}

// A state dict from Python, in `layout`'s order, names and dtypes; `what` names it in errors.
StateDict from_python(const py::object& params, const StateDict& layout, const std::string& what) {
  if (!py::isinstance<py::dict>(params) && !py::hasattr(params, "items"))
    throw ConfigError(what + " must return a dict of tensors (a state_dict)");
  std::map<std::string, torch::Tensor> got;
  for (auto item : params.attr("items")()) {
    auto kv = item.cast<py::tuple>();
    got[kv[0].cast<std::string>()] = kv[1].cast<torch::Tensor>();
  }
  StateDict out;
  for (const auto& [name, like] : layout) {
    auto it = got.find(name);
    if (it == got.end()) throw ConfigError(what + " has no tensor " + name);
    if (!it->second.sizes().equals(like.sizes()))
      throw ConfigError(what + ": tensor " + name + " has another shape than the model's");
    out.emplace_back(name, it->second.detach().to(like.options().device(torch::kCPU)));
  }
  return out;
}

class PyTrainer : public Trainer {
 public:
  PyTrainer(std::shared_ptr<PyRef> trainer, std::shared_ptr<PyRef> make_loader,
            std::shared_ptr<PyRef> device, std::shared_ptr<PyRef> args, int64_t epochs,
            int64_t batch_size, int64_t random_seed)
      : trainer_(std::move(trainer)),
        make_loader_(std::move(make_loader)),
        device_(std::move(device)),
        args_(std::move(args)),
        epochs_(epochs),
        batch_size_(batch_size),
        random_seed_(random_seed) {}

  TrainResult train(Model& model, const TensorData& data, const TrainContext& ctx) override {
    auto layout = state_of(model.module());
    {
      py::gil_scoped_acquire gil;
      const auto& t = trainer_->get();
      t.attr("set_id")(ctx.silo_id);
      t.attr("set_model_params")(to_python(layout));
      // The loader's shuffle is seeded from (random_seed, round, data silo), as the built-in
      // loop's: a deterministic loop gives the same bytes in simulate and distributed.
      uint64_t seed = derive_seed({static_cast<uint64_t>(random_seed_),
                                   static_cast<uint64_t>(ctx.round),
                                   static_cast<uint64_t>(ctx.data_silo_index), 0x5079ull});
      auto loader = make_loader_->get()(py::make_tuple(data.x, data.y), seed >> 1);
      t.attr("train")(loader, device_->get(), args_->get());
      auto trained =
          from_python(t.attr("get_model_params")(), layout, "ClientTrainer.get_model_params()");
      py::gil_scoped_release release;
      load_state(model.module(), trained, "the ClientTrainer's model");
    }
    TrainResult r;
    r.num_samples = data.size();
    // The user's loop does not say how many steps it took: the built-in loop's count.
    r.local_steps = epochs_ * ((data.size() + batch_size_ - 1) / batch_size_);
    return r;
  }

 private:
  std::shared_ptr<PyRef> trainer_, make_loader_, device_, args_;
  int64_t epochs_, batch_size_, random_seed_;
};

class PyAggregator : public Aggregator {
 public:
  explicit PyAggregator(std::shared_ptr<PyRef> aggregator) : aggregator_(std::move(aggregator)) {}
  void reset(const StateDict& global) override {
    layout_ = layout_of(global);
    updates_.clear();
    total_ = 0;
  }
  void accumulate(const StateDict& model, double weight) override {
    check_same_layout(layout_, model, "aggregator input");
    updates_.emplace_back(weight, clone_state(model));
    total_ += weight;
  }
  void merge(const Aggregator&) override {
    throw Error("a ServerAggregator written in Python cannot merge partial aggregates");
  }
  double total_weight() const override { return total_; }
  StateDict report() override {
    py::gil_scoped_acquire gil;
    py::list updates;  // (sample_num, state_dict), as FedML passes them
    for (const auto& [weight, state] : updates_)
      updates.append(py::make_tuple(weight, to_python(state)));
    auto out = from_python(aggregator_->get().attr("aggregate")(updates), layout_,
                           "ServerAggregator.aggregate()");
    updates_.clear();
    return out;
  }

 private:
  std::shared_ptr<PyRef> aggregator_;
  StateDict layout_;
  std::vector<std::pair<double, StateDict>> updates_;  // the round's, in arrival order
  double total_ = 0;
};

}  // namespace

TrainerFactory trainer_factory(py::object trainer, py::object make_loader, py::object device,
                               py::object args) {
  int64_t epochs = args.attr("epochs").cast<int64_t>();
  int64_t batch = args.attr("batch_size").cast<int64_t>();
  int64_t seed = args.attr("random_seed").cast<int64_t>();
  auto t = std::make_shared<PyRef>(std::move(trainer));
  auto l = std::make_shared<PyRef>(std::move(make_loader));
  auto d = std::make_shared<PyRef>(std::move(device));
  auto a = std::make_shared<PyRef>(std::move(args));
  return [=](const Args&, GradientSync* sync) -> std::unique_ptr<Trainer> {
    if (sync) {
      throw ConfigError(
          "a ClientTrainer written in Python runs one trainer per silo: its own loop's gradients "
          "would not be synchronised across client_silo_args.n_proc_per_node trainers; use the "
          "engine's trainer (no client_trainer) for several");
    }
    return std::make_unique<PyTrainer>(t, l, d, a, epochs, batch, seed);
  };
}

std::unique_ptr<Aggregator> aggregator_of(py::object aggregator) {
  return std::make_unique<PyAggregator>(std::make_shared<PyRef>(std::move(aggregator)));
}

cross_silo::Evaluator evaluator_of(py::object aggregator, py::object test_data, py::object device,
                                   py::object args) {
  auto agg = std::make_shared<PyRef>(std::move(aggregator));
  auto data = std::make_shared<PyRef>(std::move(test_data));
  auto dev = std::make_shared<PyRef>(std::move(device));
  auto a = std::make_shared<PyRef>(std::move(args));
  return [=](Model& model, int64_t) {
    py::gil_scoped_acquire gil;
    agg->get().attr("set_model_params")(to_python(state_of(model.module())));
    py::object got = agg->get().attr("test")(data->get(), dev->get(), a->get());
    nlohmann::json out = nlohmann::json::object();
    if (got.is_none()) return out;
    if (!py::isinstance<py::dict>(got))
      throw ConfigError("ServerAggregator.test() must return a dict of figures or None");
    for (auto item : got.cast<py::dict>()) {
      auto key = item.first.cast<std::string>();
      double v = item.second.cast<double>();
      if (std::isfinite(v)) out[key] = v;
    }
    return out;
  };
}

}  // namespace fedsilo::python
