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


def main():
    if "--rank" in sys.argv and sys.argv[sys.argv.index("--rank") + 1] == "0":
        args = fedsilo.init()
        device = fedsilo.device.get_device(args)
        dataset, output_dim = fedsilo.data.load(args)
        model = fedsilo.model.create(args, output_dim)
        sys.exit(fedsilo.cross_silo.hierarchical.Server(args, device, dataset, model).run())

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
