"""FedML's programs with their import changed: the server in FedML's five lines, each silo in
its one line (--rank decides); with FEDSILO_TEST_PY_TRAINER=1, the silos train with a
ClientTrainer of their own through FedMLRunner."""
import os
import sys

import torch

import fedsilo


class Loop(fedsilo.ClientTrainer):
    def train(self, train_data, device, args):
        opt = torch.optim.SGD(self.model.parameters(), lr=args.learning_rate)
        for _ in range(args.epochs):
            for x, y in train_data:
                opt.zero_grad()
                torch.nn.functional.cross_entropy(self.model(x), y).backward()
                opt.step()


class Mean(fedsilo.ServerAggregator):
    """FedAvg written in Python, and the engine's own evaluation figures by hand."""

    def aggregate(self, raw_client_model_or_grad_list):
        total = sum(n for n, _ in raw_client_model_or_grad_list)
        keys = raw_client_model_or_grad_list[0][1].keys()
        return {k: sum(p[k].double() * n for n, p in raw_client_model_or_grad_list) / total
                for k in keys}

    def test(self, test_data, device, args):
        correct = total = 0
        with torch.no_grad():
            for x, y in test_data:
                correct += int((self.model(x).argmax(1) == y).sum())
                total += len(y)
        return {"test_acc": correct / total}


def main():
    if "--rank" in sys.argv and sys.argv[sys.argv.index("--rank") + 1] == "0":
        args = fedsilo.init()
        device = fedsilo.device.get_device(args)
        dataset, output_dim = fedsilo.data.load(args)
        model = fedsilo.model.create(args, output_dim)
        aggregator = None
        if os.environ.get("FEDSILO_TEST_PY_AGGREGATOR") == "1":
            aggregator = Mean(fedsilo.model.create(args, output_dim), args)
        sys.exit(fedsilo.cross_silo.hierarchical.Server(args, device, dataset, model,
                                                        server_aggregator=aggregator).run())

    if os.environ.get("FEDSILO_TEST_PY_TRAINER") == "1":
        args = fedsilo.init()
        device = fedsilo.device.get_device(args)
        dataset, output_dim = fedsilo.data.load(args)
        model = fedsilo.model.create(args, output_dim)
        sys.exit(fedsilo.FedMLRunner(args, device, dataset, model,
                                     client_trainer=Loop(model, args)).run())

    fedsilo.run_hierarchical_cross_silo_client()


if __name__ == "__main__":
    main()
