"""FedML's ``FedMLRunner`` and fedsilo's in-process ``simulate``."""

import json

from . import _core
from .data import FederatedData


def _engine_dataset(args, dataset):
    if isinstance(dataset, FederatedData) and dataset.engine is not None:
        return dataset.engine
    raise ValueError(
        "the dataset must come from fedsilo.data.load(args) (a data set built in Python, FedML's "
        "8-item list of your own DataLoaders, is not supported yet)")


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
