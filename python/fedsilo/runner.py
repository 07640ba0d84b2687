"""FedML's ``FedMLRunner`` and fedsilo's in-process ``simulate``."""

import json

import torch
from torch.utils.data import DataLoader

from . import _core
from .data import FederatedData


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


class FedMLRunner:
    """``FedMLRunner(args, device, dataset, model).run()``: the server for rank 0, else this
    silo's trainer (or, with several trainers per node, its launcher). Returns the exit code
    (0: the run completed; docs/api.md lists the others)."""

    def __init__(self, args, device, dataset, model, client_trainer=None,
                 server_aggregator=None):
        if client_trainer is not None or server_aggregator is not None:
            raise ValueError("client_trainer / server_aggregator written in Python are not "
                             "supported yet; the engine's trainer and aggregator for "
                             "train_args.federated_optimizer run instead when none is given")
        self.args, self.device, self.dataset, self.model = args, device, dataset, model

    def run(self):
        cpp = self.args.engine()
        data = _engine_dataset(self.args, self.dataset)
        if cpp.rank == 0:
            return _core.run_server(cpp, str(self.device), data, self.model)
        return _core.run_client(cpp, str(self.device), data, self.model)


def simulate(args, dataset, make_model):
    """The server and every silo of ``client_id_list`` in this process, through the same state
    machines as the distributed run; ``make_model()`` returns a fresh torch.nn.Module (called
    once for the server and once per silo). Returns a dict: output_dir, final_metrics, wall_s."""
    out, metrics, wall = _core.simulate(args.engine(), _engine_dataset(args, dataset), make_model)
    return {"output_dir": out, "final_metrics": json.loads(metrics), "wall_s": wall}
