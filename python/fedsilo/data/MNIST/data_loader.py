"""FedML's ``fedml.data.MNIST.data_loader``: MNIST in LEAF's JSON layout
(``<dir>/MNIST/train/*.json``, ``<dir>/MNIST/test/*.json``, each ``{"users": [...],
"user_data": {user: {"x": [[784 floats], ...], "y": [...]}}}``), one data silo per user."""

import gzip
import json
import os

import torch

from ... import logger

USERS = 1000  # FedML's MNIST has 1,000 LEAF users


def _idx(path):
    with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    body = data[4 + 4 * dims:]
    count = 1
    for d in shape:
        count *= d
    if data[:3] != b"\x00\x00\x08" or len(body) != count:
        raise ValueError("%s is not an IDX file of unsigned bytes" % path)
    return torch.frombuffer(bytearray(body), dtype=torch.uint8).reshape(shape)


def _write_leaf(images, labels, path, users):
    x = images.reshape(images.shape[0], -1).float().div(255.0)
    y = labels.long()
    per = (len(y) + users - 1) // users
    data = {}
    names = []
    for u in range(users):
        lo, hi = u * per, min(len(y), (u + 1) * per)
        if lo >= hi:
            break
        name = "f_%05d" % u
        names.append(name)
        data[name] = {"x": [[round(v, 4) for v in row] for row in x[lo:hi].tolist()],
                      "y": y[lo:hi].tolist()}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp.%d" % os.getpid()
    with open(tmp, "w") as f:
        json.dump({"users": names, "num_samples": [len(data[n]["y"]) for n in names],
                   "user_data": data}, f)
    os.replace(tmp, path)


def download_mnist(data_cache_dir):
    """FedML downloads a zip of the LEAF files; fedsilo reaches no network from a run. When the
    LEAF folders are missing but ``scripts/get-data.sh`` has written the IDX files to
    ``<data_cache_dir>/MNIST``, they are written from those (1,000 users of consecutive
    samples); otherwise ``FileNotFoundError`` says what to do."""
    root = os.path.join(data_cache_dir, "MNIST")
    train, test = os.path.join(root, "train"), os.path.join(root, "test")

    def has_json(folder):
        return os.path.isdir(folder) and any(f.endswith(".json") for f in os.listdir(folder))

    # Several processes may do this at once: each file appears whole (written, then renamed).
    if has_json(train) and has_json(test):
        return
    idx = {}
    for n in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
              "t10k-labels-idx1-ubyte"):
        plain = os.path.join(root, n)
        idx[n] = plain if os.path.exists(plain) else plain + ".gz"  # get-data.sh writes .gz
    if not all(os.path.exists(p) for p in idx.values()):
        raise FileNotFoundError(
            "MNIST in LEAF's layout is not in %s (train/, test/) and there are no IDX files to "
            "make it from: run scripts/get-data.sh, or copy FedML's MNIST folder there" % root)
    logger.info("writing MNIST in LEAF's layout to %s from the IDX files", root)
    _write_leaf(_idx(idx["train-images-idx3-ubyte"]), _idx(idx["train-labels-idx1-ubyte"]),
                os.path.join(train, "all_data_train.json"), USERS)
    _write_leaf(_idx(idx["t10k-images-idx3-ubyte"]), _idx(idx["t10k-labels-idx1-ubyte"]),
                os.path.join(test, "all_data_test.json"), USERS)


def read_data(train_data_dir, test_data_dir):
    """FedML's ``read_data``: (users, groups, train_data, test_data) from the JSON files."""
    groups, train_data, test_data = [], {}, {}
    users = []
    for folder, into in ((train_data_dir, train_data), (test_data_dir, test_data)):
        files = sorted(f for f in os.listdir(folder) if f.endswith(".json"))
        if not files:
            raise FileNotFoundError("no LEAF .json files in %s" % folder)
        for name in files:
            path = os.path.join(folder, name)
            try:
                with open(path) as f:
                    cdata = json.load(f)
                if into is train_data:
                    users.extend(cdata["users"])
                    groups.extend(cdata.get("hierarchies", []))
                into.update(cdata["user_data"])
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError("%s is not a LEAF data file: %s" % (path, e)) from None
    return sorted(users), groups, train_data, test_data


def batch_data(args, data, batch_size):
    """One user's samples as a list of ``(x, y)`` batches (x float [B, 784], y int64)."""
    x = torch.tensor(data["x"], dtype=torch.float32)
    y = torch.tensor(data["y"], dtype=torch.int64)
    g = torch.Generator().manual_seed(100)  # FedML shuffles each user's samples with seed 100
    order = torch.randperm(len(y), generator=g)
    x, y = x[order], y[order]
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(y), batch_size)]


def load_partition_data_mnist(*args, train_path="./MNIST/train", test_path="./MNIST/test",
                              **kwargs):
    """FedML's ``load_partition_data_mnist([args,] batch_size, train_path, test_path)``:
    ``(client_num, train_data_num, test_data_num, train_data_global, test_data_global,
    train_data_local_num_dict, train_data_local_dict, test_data_local_dict, class_num)`` with
    one data silo per LEAF user and each data set a list of ``(x, y)`` batches."""
    fed_args = args[0] if args and hasattr(args[0], "batch_size") else None
    rest = args[1:] if fed_args is not None else args
    batch_size = rest[0] if rest else kwargs.get("batch_size", fed_args.batch_size)
    users, _, train_data, test_data = read_data(train_path, test_path)
    train_num = test_num = 0
    train_local, test_local, local_num = {}, {}, {}
    train_global, test_global = [], []
    for i, u in enumerate(users):
        local_num[i] = len(train_data[u]["y"])
        train_num += local_num[i]
        test_num += len(test_data.get(u, {"y": []})["y"])
        train_local[i] = batch_data(fed_args, train_data[u], batch_size)
        test_local[i] = batch_data(fed_args, test_data.get(u, {"x": [], "y": []}), batch_size)
        train_global += train_local[i]
        test_global += test_local[i]
    return (len(users), train_num, test_num, train_global, test_global, local_num, train_local,
            test_local, 10)
