#!/usr/bin/env python3
"""The Python front end's cost against the C++ path (docs/benchmarks.md, "Python front end").

    PYTHONPATH=build/python /usr/bin/python3 bench/python_front_end.py [runs]

On the seed's config (one_line/config, MNIST from scripts/get-data.sh), each in one process
with `simulate` (server + 2 silos, 50 rounds): the C++ tool's model, the same model as a Python
torch.nn.Module, and a Python ClientTrainer loop; medians of `runs` runs of each, alternated.
Start-up: `import fedsilo` (the interpreter, torch and the engine) against the engine program's
own start, medians of `runs`.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("FEDSILO_BUILD_DIR", os.path.join(ROOT, "build"))
CONFIG = os.path.join(ROOT, "examples", "cross_silo", "mqtt_s3_fedavg_hierarchical_mnist_lr",
                      "one_line", "config", "fedml_config.yaml")

PY_RUN = r"""
import sys, time, json, torch, fedsilo
t0 = time.monotonic()
argv = sys.argv[1:]
kind = argv.pop(0)
args = fedsilo.init(argv=["bench"] + argv)
ds, k = fedsilo.data.load(args)

class Loop(fedsilo.ClientTrainer):
    def train(self, train_data, device, args):
        opt = torch.optim.SGD(self.model.parameters(), lr=args.learning_rate,
                              weight_decay=args.weight_decay)
        for _ in range(args.epochs):
            for x, y in train_data:
                opt.zero_grad()
                torch.nn.functional.cross_entropy(self.model(x), y).backward()
                opt.step()

trainer = Loop(fedsilo.model.create(args, k), args) if kind == "loop" else None
out = fedsilo.simulate(args, ds, lambda: fedsilo.model.create(args, k), client_trainer=trainer)
print(json.dumps({"wall_s": out["wall_s"], "acc": out["final_metrics"]["test_acc"]}))
"""


def run_python(kind, run_id, log_dir):
    r = subprocess.run([sys.executable, "-c", PY_RUN, kind, "--cf", CONFIG, "--run_id", run_id,
                        "--set", "tracking_args.log_file_dir=" + log_dir, "--set",
                        "data_args.data_cache_dir=" + os.path.join(ROOT, "data")],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_cpp(run_id, log_dir):
    r = subprocess.run([os.path.join(BUILD, "fedsilo"), "simulate", "--cf", CONFIG, "--run_id",
                        run_id, "--set", "tracking_args.log_file_dir=" + log_dir, "--set",
                        "data_args.data_cache_dir=" + os.path.join(ROOT, "data")],
                       capture_output=True, text=True, check=True)
    line = [l for l in r.stdout.splitlines() + r.stderr.splitlines() if "done in" in l][-1]
    wall = float(line.split("done in ")[1].split(" s")[0])
    acc = json.loads(line.split("final ")[1].split("; outputs")[0])["test_acc"]
    return {"wall_s": wall, "acc": acc}


def timed(cmd):
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.monotonic() - t0


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    log_dir = tempfile.mkdtemp(prefix="fedsilo-bench-py-")
    results = {"C++ model (fedsilo simulate)": [], "Python nn.Module, engine's trainer": [],
               "Python nn.Module, Python ClientTrainer loop": []}
    accs = {}
    for i in range(runs):
        for name, f in (("C++ model (fedsilo simulate)", lambda: run_cpp("c%d" % i, log_dir)),
                        ("Python nn.Module, engine's trainer",
                         lambda: run_python("module", "m%d" % i, log_dir)),
                        ("Python nn.Module, Python ClientTrainer loop",
                         lambda: run_python("loop", "l%d" % i, log_dir))):
            r = f()
            results[name].append(r["wall_s"])
            accs[name] = r["acc"]
    print("seed config, simulate (server + 2 silos, 50 rounds), medians of %d runs" % runs)
    print("  %-46s %10s %9s %8s" % ("", "run (s)", "per round", "test acc"))
    for name, walls in results.items():
        m = statistics.median(walls)
        print("  %-46s %10.3f %7.2f ms %8.4f" % (name, m, m / 50 * 1000, accs[name]))
    imp = [timed([sys.executable, "-c", "import fedsilo"]) for _ in range(runs)]
    torch_only = [timed([sys.executable, "-c", "import torch"]) for _ in range(runs)]
    engine = [timed([os.path.join(BUILD, "fedsilo-engine"), "--help"]) for _ in range(runs)]
    print("start-up, medians of %d: python3 -c 'import fedsilo' %.3f s (of which import torch "
          "%.3f s); fedsilo-engine --help %.3f s" % (runs, statistics.median(imp),
                                                   statistics.median(torch_only),
                                                   statistics.median(engine)))


if __name__ == "__main__":
    main()
