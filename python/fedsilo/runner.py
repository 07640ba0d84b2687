"""FedML's ``FedMLRunner`` and fedsilo's in-process ``simulate``."""

import json
import sys

import torch
from torch.utils.data import DataLoader

from . import _core
from .core import ClientTrainer, ServerAggregator
from .data import FederatedData, _loader


def _is_batch(o):
    return (isinstance(o, (list, tuple)) and len(o) == 2 and isinstance(o[0], torch.Tensor)
            and isinstance(o[1], torch.Tensor))


def _tensors(data, what):
    """(x, y) of a data set given as a DataLoader, a list of (x, y) batches (nested lists too:
    split_data_for_dist_trainers' shape), or (x, y) itself; None when it holds nothing."""
    if _is_batch(data) and not isinstance(data, list):
        return data[0], data[1].long()
    batches = []

    def walk(o):
        if _is_batch(o):
            batches.append(o)
        elif isinstance(o, (list, tuple, DataLoader)):
            for item in o:
                walk(item)
        else:
            raise ValueError("%s: expected a DataLoader, a list of (x, y) batches or (x, y); got "
                             "%s" % (what, type(o).__name__))

    walk(data)
    if not batches:
        return None
    return (torch.cat([torch.as_tensor(b[0]) for b in batches]),
            torch.cat([torch.as_tensor(b[1]).long().reshape(-1) for b in batches]))


def _engine_dataset(args, dataset):
    if isinstance(dataset, FederatedData) and dataset.engine is not None:
        return dataset.engine
    if not isinstance(dataset, (list, tuple)) or len(dataset) != 8:
        raise ValueError("the dataset must be FedML's 8-item list [train_data_num, test_data_num, "
                         "train_data_global, test_data_global, train_data_local_num_dict, "
                         "train_data_local_dict, test_data_local_dict, class_num]")
    (train_num, test_num, train_global, test_global, local_num, train_local, test_local,
     class_num) = dataset
    # Rounds draw data silos 0 .. client_num_in_total - 1: each must be there.
    missing = sorted(set(range(args.client_num_in_total)) - {int(k) for k in train_local})
    if missing:
        raise ValueError(
            "dataset[5] (train_data_local_dict) has no data silo %s of the %d that "
            "train_args.client_num_in_total names (set args.client_num_in_total to the number "
            "of data silos)" % (", ".join(map(str, missing[:5])), args.client_num_in_total))
    return _core.make_dataset(
        int(train_num), int(test_num), _tensors(train_global, "dataset[2]"),
        _tensors(test_global, "dataset[3]"), {int(k): int(v) for k, v in local_num.items()},
        {int(k): _tensors(v, "dataset[5][%s]" % k) for k, v in train_local.items()},
        {int(k): _tensors(v, "dataset[6][%s]" % k) for k, v in test_local.items()},
        int(class_num))


def _loader_for(args):
    return lambda xy, seed: _loader(xy, args.batch_size, True, seed)


def _server_parts(aggregator):
    """(rule, tester): the aggregator's aggregate when it overrides FedML's, and its test."""
    if aggregator is None:
        return None, None
    if not isinstance(aggregator, ServerAggregator):
        raise ValueError("server_aggregator must subclass fedsilo.core.ServerAggregator")
    overrides = type(aggregator).aggregate is not ServerAggregator.aggregate
    return (aggregator if overrides else None), aggregator


def _check_trainer(trainer):
    if trainer is not None and not isinstance(trainer, ClientTrainer):
        raise ValueError("client_trainer must subclass fedsilo.core.ClientTrainer")


def _test_data(dataset):
    return dataset[3] if isinstance(dataset, (list, tuple)) and len(dataset) == 8 else None


class FedMLRunner:
    """``FedMLRunner(args, device, dataset, model).run()``: the server for rank 0, else this
    silo's trainer (or, with several trainers per node, its launcher). Returns the exit code
    (0: the run completed; docs/api.md lists the others). ``client_trainer`` (a
    fedsilo.core.ClientTrainer) replaces the engine's training loop at the silos;
    ``server_aggregator`` (a fedsilo.core.ServerAggregator) its rule when it overrides
    ``aggregate``, and its evaluation with ``test``."""

    def __init__(self, args, device, dataset, model, client_trainer=None,
                 server_aggregator=None):
        _check_trainer(client_trainer)
        _server_parts(server_aggregator)
        self.args, self.device, self.dataset, self.model = args, device, dataset, model
        self.client_trainer, self.server_aggregator = client_trainer, server_aggregator

    def run(self):
        try:
            return self._run()
        except (_core.ConfigError, _core.DataError, ValueError) as e:
            # As the C++ tool: one line naming what is wrong, exit code 2.
            sys.stderr.write("fedsilo: error: %s\n" % e)
            return 2

    def _run(self):
        cpp = self.args.engine()
        if self.client_trainer is not None and cpp.rank != 0 and self.args.n_proc_in_silo > 1:
            raise ValueError(
                "a ClientTrainer written in Python runs one trainer per silo: its own loop's "
                "gradients would not be synchronised across client_silo_args.n_proc_per_node "
                "trainers; use the engine's trainer (no client_trainer) for several")
        data = _engine_dataset(self.args, self.dataset)
        if cpp.rank == 0:
            rule, tester = _server_parts(self.server_aggregator)
            return _core.run_server(cpp, str(self.device), data, self.model, rule, tester,
                                    self.device, self.args, _test_data(self.dataset))
        return _core.run_client(cpp, str(self.device), data, self.model, self.client_trainer,
                                _loader_for(self.args), self.device, self.args)


def simulate(args, dataset, make_model, client_trainer=None, server_aggregator=None):
    """The server and every silo of ``client_id_list`` in this process, through the same state
    machines as the distributed run; ``make_model()`` returns a fresh torch.nn.Module (called
    once for the server and once per silo). Returns a dict: output_dir, final_metrics, wall_s."""
    _check_trainer(client_trainer)
    rule, tester = _server_parts(server_aggregator)
    out, metrics, wall = _core.simulate(
        args.engine(), _engine_dataset(args, dataset), make_model, client_trainer, rule, tester,
        _loader_for(args), torch.device("cpu"), args, _test_data(dataset))
    return {"output_dir": out, "final_metrics": json.loads(metrics), "wall_s": wall}
