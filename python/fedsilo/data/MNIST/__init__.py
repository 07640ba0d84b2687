"""FedML's ``fedml.data.MNIST``."""
