"""FedML's ``fedml.core``: the ``ClientTrainer`` and ``ServerAggregator`` a program subclasses to
bring its own training loop and aggregation (FedML's ``core/alg_frame``)."""

from abc import ABC, abstractmethod


class ClientTrainer(ABC):
    """A silo's training loop. The engine calls ``set_model_params(global)`` with the round's
    global model, then ``train(train_data, device, args)`` with the round's data silo as a
    DataLoader, then uploads ``get_model_params()``."""

    def __init__(self, model, args):
        self.model = model
        self.id = 0
        self.args = args

    def set_id(self, trainer_id):
        self.id = trainer_id

    def get_model_params(self):
        return self.model.state_dict()

    def set_model_params(self, model_parameters):
        self.model.load_state_dict(model_parameters)

    @abstractmethod
    def train(self, train_data, device, args):
        pass

    def test(self, test_data, device, args):
        pass


class ServerAggregator(ABC):
    """The server's rule and evaluation. ``aggregate(raw_client_model_or_grad_list)`` gets the
    round's accepted updates as ``[(sample_num, state_dict), ...]`` and returns the new global
    state_dict; ``test(test_data, device, args)`` returns a dict of figures (test_acc, ...)
    for metrics.jsonl. A subclass that overrides neither keeps the engine's."""

    def __init__(self, model, args):
        self.model = model
        self.id = 0
        self.args = args

    def set_id(self, aggregator_id):
        self.id = aggregator_id

    def get_model_params(self):
        return self.model.state_dict()

    def set_model_params(self, model_parameters):
        self.model.load_state_dict(model_parameters)

    def aggregate(self, raw_client_model_or_grad_list):
        total = sum(n for n, _ in raw_client_model_or_grad_list)
        out = {}
        for n, params in raw_client_model_or_grad_list:
            for k, v in params.items():
                out[k] = out.get(k, 0) + v.double() * (n / total)
        return out

    @abstractmethod
    def test(self, test_data, device, args):
        pass
