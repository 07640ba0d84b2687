"""FedML's ``fedml.device``."""

import torch

from . import _core


def get_device(args):
    """The CPU, or with ``using_gpu`` the GPU this process gets (device_args.gpu_mapping_file
    and gpu_mapping_key in FedML's format, else GPU k mod count for process k)."""
    return torch.device(_core.get_device(args.engine()))
