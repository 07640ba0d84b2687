"""FedML's ``fedml.data.data_loader_cross_silo``."""


def split_data_for_dist_trainers(data_loaders, n_dist_trainer):
    """FedML's split of each data silo's batches among the silo's ``n_dist_trainer`` trainers:
    silo k's list of batches becomes ``n_dist_trainer`` lists. The engine gives each trainer
    its share of every step itself (docs/python.md), so it reads the lists back as one data
    set; the split keeps FedML's shape for code that looks at it."""
    out = {}
    for k, batches in data_loaders.items():
        batches = list(batches)
        per = (len(batches) + n_dist_trainer - 1) // max(n_dist_trainer, 1)
        out[k] = [batches[i * per:(i + 1) * per] for i in range(n_dist_trainer)]
    return out
