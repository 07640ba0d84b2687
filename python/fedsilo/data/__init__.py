"""FedML's ``fedml.data``: the data set the config names, as FedML's 8-item list."""

import torch
from torch.utils.data import DataLoader, TensorDataset

from .. import _core


class FederatedData(list):
    """FedML's dataset list ``[train_data_num, test_data_num, train_data_global,
    test_data_global, train_data_local_num_dict, train_data_local_dict, test_data_local_dict,
    class_num]`` whose data are DataLoaders; the engine reads the same tensors directly
    (``engine``), so handing it back costs nothing."""

    def __init__(self, items, engine=None):
        super().__init__(items)
        self.engine = engine


def _collate(batch):
    # The engine keeps images as uint8 and scales them to [0, 1] when it forms a batch; a
    # Python loop gets its batches scaled the same way. Scaling per batch, not the whole set at
    # once, keeps one copy of the data: the silos' test sets are often one shared tensor.
    x = torch.stack([b[0] for b in batch])
    y = torch.stack([b[1] for b in batch])
    return [x.float().div_(255.0) if x.dtype == torch.uint8 else x, y]


def _loader(xy, batch_size, shuffle, seed=None):
    x, y = xy
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle,
                      generator=generator, collate_fn=_collate)


def load(args):
    """Returns ``(dataset, class_num)`` as FedML's ``fedml.data.load``: MNIST, Fashion-MNIST or
    FedML's LEAF JSON, partitioned over ``client_num_in_total`` data silos (data_args)."""
    cpp = _core.load_cross_silo(args.engine())
    bs = args.batch_size
    silos = cpp.train_data_local_num_dict
    train_local = {k: _loader(cpp.train_data_local(k), bs, True) for k in silos}
    test_local = {k: _loader(cpp.test_data_local(k), bs, False) for k in silos}
    items = [
        cpp.train_data_num, cpp.test_data_num,
        _loader(cpp.train_data_global(), bs, True), _loader(cpp.test_data_global(), bs, False),
        dict(cpp.train_data_local_num_dict), train_local, test_local, cpp.class_num,
    ]
    return FederatedData(items, cpp), cpp.class_num


load_cross_silo = load
