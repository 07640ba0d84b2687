"""The seed's custom-data-and-model example (FedML Octopus), with only its imports changed:
FedML's LEAF MNIST loader and split, and a torch.nn.Module of its own.

    PYTHONPATH=build/python /usr/bin/python3 custom_data_and_model.py --cf CONFIG --rank K
"""
import torch

import fedsilo as fedml
from fedsilo.cross_silo.hierarchical import Client, Server
from fedsilo.data.MNIST.data_loader import download_mnist, load_partition_data_mnist
from fedsilo.data.data_loader_cross_silo import split_data_for_dist_trainers


def load_data(args):
    n_dist_trainer = args.n_proc_in_silo
    download_mnist(args.data_cache_dir)
    fedml.logger.info("load_data. dataset_name = %s" % args.dataset)
    (
        client_num,
        train_data_num,
        test_data_num,
        train_data_global,
        test_data_global,
        train_data_local_num_dict,
        train_data_local_dict,
        test_data_local_dict,
        class_num,
    ) = load_partition_data_mnist(
        args.batch_size,
        train_path=args.data_cache_dir + "MNIST/train",
        test_path=args.data_cache_dir + "MNIST/test",
    )
    args.client_num_in_total = client_num
    train_data_local_dict = split_data_for_dist_trainers(train_data_local_dict, n_dist_trainer)
    dataset = [
        train_data_num,
        test_data_num,
        train_data_global,
        test_data_global,
        train_data_local_num_dict,
        train_data_local_dict,
        test_data_local_dict,
        class_num,
    ]
    return dataset, class_num


class LogisticRegression(torch.nn.Module):
    def __init__(self, input_dim, output_dim):
        super(LogisticRegression, self).__init__()
        self.linear = torch.nn.Linear(input_dim, output_dim)

    def forward(self, x):
        outputs = torch.sigmoid(self.linear(x))
        return outputs


if __name__ == "__main__":
    args = fedml.init()
    device = fedml.device.get_device(args)
    dataset, output_dim = load_data(args)
    model = LogisticRegression(28 * 28, output_dim)
    runner = Server if args.rank == 0 else Client
    raise SystemExit(runner(args, device, dataset, model).run())
