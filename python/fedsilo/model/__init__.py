"""FedML's ``fedml.model``: the built-in models, as torch.nn.Modules.

They are the engine's own models written in Python (same layers, names and initialisation),
so a run with ``fedsilo.model.create`` ends with the same bytes as the C++ tool's."""

import torch
from torch import nn


class LogisticRegression(nn.Module):
    """model: lr. Multinomial logistic regression: logits (the softmax lives in the loss)."""

    def __init__(self, input_dim, output_dim):
        super().__init__()
        self.linear = nn.Linear(input_dim, output_dim)

    def forward(self, x):
        return self.linear(x.reshape(x.size(0), -1))


class CNN_OriginalFedAvg(nn.Module):
    """model: cnn. McMahan et al. 2017's MNIST CNN."""

    def __init__(self, output_dim=10):
        super().__init__()
        self.conv2d_1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2d_2 = nn.Conv2d(32, 64, 5, padding=2)
        self.linear_1 = nn.Linear(7 * 7 * 64, 512)
        self.linear_2 = nn.Linear(512, output_dim)

    def forward(self, x):
        x = x.reshape(x.size(0), 1, 28, 28)
        x = torch.max_pool2d(torch.relu(self.conv2d_1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2d_2(x)), 2)
        x = torch.relu(self.linear_1(x.flatten(1)))
        return self.linear_2(x)


def create(args, output_dim, input_dim=28 * 28):
    """FedML's ``fedml.model.create``: ``model_args.model`` (lr, cnn), initialised from
    ``random_seed`` so every process builds the same starting model."""
    torch.manual_seed(args.random_seed)
    if args.model == "lr":
        return LogisticRegression(input_dim, output_dim)
    if args.model == "cnn":
        return CNN_OriginalFedAvg(output_dim)
    raise ValueError("model_args.model = %s: fedsilo.model.create builds lr and cnn; pass your "
                     "own torch.nn.Module for anything else" % args.model)
