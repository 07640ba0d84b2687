"""FedML's ``fedml.logger``: the engine logs through spdlog (console and the run folder);
Python code logs through this logger, whose lines go to the console the same way."""

import logging

_log = logging.getLogger("fedsilo")
if not _log.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("[FedSilo-Python] [%(asctime)s] [%(levelname)s] %(message)s"))
    _log.addHandler(_handler)
    _log.setLevel(logging.INFO)

info = _log.info
warning = _log.warning
error = _log.error
debug = _log.debug
