"""FedML's ``fedml.cross_silo.hierarchical``: ``Client(args, device, dataset, model).run()`` and
``Server(args, device, dataset, model).run()``. Each returns the exit code (0: completed)."""

from ..runner import FedMLRunner


class Client:
    def __init__(self, args, device, dataset, model, model_trainer=None):
        if args.rank == 0:
            raise ValueError("fedsilo.cross_silo.Client needs --rank >= 1 (rank 0 is the server)")
        self._runner = FedMLRunner(args, device, dataset, model, client_trainer=model_trainer)

    def run(self):
        return self._runner.run()


class Server:
    def __init__(self, args, device, dataset, model, server_aggregator=None):
        if args.rank != 0:
            raise ValueError("fedsilo.cross_silo.Server needs --rank 0")
        self._runner = FedMLRunner(args, device, dataset, model,
                                   server_aggregator=server_aggregator)

    def run(self):
        return self._runner.run()
