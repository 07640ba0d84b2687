"""FedML's ``fedml.cross_silo``: ``Client`` and ``Server`` (hierarchical: several trainers per
silo when client_silo_args ask for them)."""

from .hierarchical import Client, Server  # noqa: F401
