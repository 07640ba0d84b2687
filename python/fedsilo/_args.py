"""FedML's ``args``: the config's keys as attributes, read and checked by the engine."""

import json
import sys

from . import _core


class Arguments:
    """Every config key as FedML names it (``args.batch_size``, ``args.data_cache_dir``, ...),
    plus ``rank``, ``run_id``, ``node_rank``, ``config_file`` and ``n_proc_in_silo``.

    A key changed in Python (``args.comm_round = 5``) goes to the engine as ``--set`` and is
    checked like the config file's; an attribute that is not a config key stays in Python.
    """

    def __init__(self, cpp, argv):
        object.__setattr__(self, "_cpp", cpp)
        object.__setattr__(self, "_argv", list(argv))
        object.__setattr__(self, "_sections", {})
        self._load(cpp)

    def _load(self, cpp):
        config = json.loads(cpp.to_json())
        run = config.pop("run", {})
        sections = {}
        for section, keys in config.items():
            for key, value in keys.items():
                sections[key] = section
                object.__setattr__(self, key, value)
        object.__setattr__(self, "_sections", sections)
        object.__setattr__(self, "_values", {k: getattr(self, k) for k in sections})
        object.__setattr__(self, "rank", run.get("rank", cpp.rank))
        object.__setattr__(self, "run_id", run.get("run_id", cpp.run_id))
        object.__setattr__(self, "config_file", run.get("config_file", ""))
        object.__setattr__(self, "node_rank", getattr(self, "node_rank_in_silo", 0))
        object.__setattr__(
            self, "n_proc_in_silo",
            getattr(self, "n_node_in_silo", 1) * getattr(self, "n_proc_per_node", 1))

    def engine(self):
        """The engine's view of these arguments, with every key changed in Python applied."""
        changed = [k for k in self._sections if getattr(self, k) != self._values[k]]
        if not changed:
            return self._cpp
        argv = list(self._argv)
        for k in changed:
            argv += ["--set", "%s.%s=%s" % (self._sections[k], k, json.dumps(getattr(self, k)))]
        cpp = _core.parse(argv)
        object.__setattr__(self, "_cpp", cpp)
        object.__setattr__(self, "_argv", argv)
        self._load(cpp)
        return cpp

    def __repr__(self):
        keys = ", ".join("%s=%r" % (k, getattr(self, k)) for k in sorted(self._sections))
        return "Arguments(rank=%r, run_id=%r, %s)" % (self.rank, self.run_id, keys)


def init(args=None, argv=None):
    """FedML's ``fedml.init()``: reads --cf, --rank, --node_rank, --run_id and --set from the
    command line (``argv``, default ``sys.argv``), loads and checks the config (ValueError
    naming the key on a bad one) and sets up logging. Returns the ``args``."""
    if isinstance(args, Arguments):
        return args
    argv = list(sys.argv if argv is None else argv)
    if not argv:
        argv = ["python"]
    return Arguments(_core.init(argv), argv)
