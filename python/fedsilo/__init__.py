"""fedsilo for Python: FedML's cross-silo API over fedsilo's C++ engine.

A FedML program needs only its imports changed (``import fedsilo as fedml``, or ``fedml`` ->
``fedsilo``): ``fedsilo.init()``, ``fedsilo.device.get_device(args)``,
``fedsilo.data.load(args)``, ``fedsilo.model.create(args, output_dim)``,
``fedsilo.FedMLRunner(args, device, dataset, model).run()`` and the one-line
``fedsilo.run_hierarchical_cross_silo_server()`` / ``_client()``. The user's torch.nn.Module
trains inside the engine with its own tensors (no copies); the protocol, transport, security,
checkpoints and dashboard are the engine's. docs/python.md has the details.
"""

import sys as _sys

from . import _core
from ._args import Arguments, init
from . import core, device, data, model, logger, cross_silo  # noqa: F401  (FedML's names)
from .core import ClientTrainer, ServerAggregator
from .runner import FedMLRunner, simulate

ConfigError = _core.ConfigError
DataError = _core.DataError

__all__ = [
    "Arguments", "ClientTrainer", "ConfigError", "ServerAggregator", "core", "DataError", "FedMLRunner", "cross_silo", "data", "device", "init",
    "logger",
    "model", "run_cross_silo_client", "run_cross_silo_server", "run_hierarchical_cross_silo_client",
    "run_hierarchical_cross_silo_server", "run_simulation", "simulate",
]


def _one_line():
    try:
        args = init()
        dev = device.get_device(args)
        dataset, output_dim = data.load(args)
        net = model.create(args, output_dim)
    except (ConfigError, DataError, ValueError, FileNotFoundError) as e:
        # As the C++ tool: one line naming what is wrong, exit code 2.
        _sys.stderr.write("fedsilo: error: %s\n" % e)
        raise SystemExit(2)
    code = FedMLRunner(args, dev, dataset, net).run()
    if code:
        raise SystemExit(code)


def run_hierarchical_cross_silo_server():
    """FedML's one-line server: init, data, model, then the server (rank 0 in --rank)."""
    _one_line()


def run_hierarchical_cross_silo_client():
    """FedML's one-line silo: init, data, model, then this silo (its --rank)."""
    _one_line()


run_cross_silo_server = run_hierarchical_cross_silo_server
run_cross_silo_client = run_hierarchical_cross_silo_client


def run_simulation():
    """The server and every silo in this process (``fedsilo simulate``); returns the summary."""
    args = init()
    dataset, output_dim = data.load(args)
    return simulate(args, dataset, lambda: model.create(args, output_dim))
