#pragma once
// FedML's ClientTrainer and ServerAggregator written in Python, as the engine's Trainer,
// Aggregator and Evaluator: each call takes the GIL, hands Python the engine's tensors, and
// checks what comes back against the model's layout before the engine uses it.
#include <torch/extension.h>

#include "fedsilo/aggregator.h"
#include "fedsilo/cross_silo.h"
#include "fedsilo/trainer.h"
#include "py_module.h"

namespace fedsilo::python {

// `trainer`: a ClientTrainer; `make_loader((x, y))` returns the DataLoader train() gets;
// `device` and `args` are what train() gets besides. Refuses a silo of several trainers (its
// own loop's gradients would not be synchronised).
TrainerFactory trainer_factory(pybind11::object trainer, pybind11::object make_loader,
                               pybind11::object device, pybind11::object args);

// ServerAggregator.aggregate as the server's rule.
std::unique_ptr<Aggregator> aggregator_of(pybind11::object aggregator);

// ServerAggregator.test(test_data, device, args) as the server's evaluation: its dict of
// figures goes to metrics.jsonl.
cross_silo::Evaluator evaluator_of(pybind11::object aggregator, pybind11::object test_data,
                                   pybind11::object device, pybind11::object args);

}  // namespace fedsilo::python
