"""The Python front end against the engine: FedML's names, a torch.nn.Module trained in place,
and a distributed run of Python programs over a real mosquitto.

Run by ctest (Python.*) with PYTHONPATH=<build>/python and FEDSILO_BUILD_DIR=<build>."""

import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import torch
from torch import nn

import fedsilo

BUILD = os.environ.get("FEDSILO_BUILD_DIR", "")
HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "..", "..", "examples", "python")


def example(name):
    """One of the seed's Python examples, imported as a module."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_idx(path, dims, data):
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 8, len(dims)))
        for d in dims:
            f.write(struct.pack(">I", d))
        f.write(bytes(data))


def synthetic_mnist(root, n_train=300, n_test=60, seed=1):
    """Ten easy classes: a bright 4x4 square whose place gives the label, on faint noise."""
    g = torch.Generator().manual_seed(seed)
    os.makedirs(os.path.join(root, "MNIST"), exist_ok=True)
    for n, images, labels in ((n_train, "train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                              (n_test, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")):
        y = torch.randint(0, 10, (n,), generator=g)
        x = torch.randint(0, 60, (n, 28, 28), generator=g, dtype=torch.uint8)
        for i in range(n):
            k = int(y[i])
            r0, c0 = 2 + (k // 5) * 12, 2 + (k % 5) * 5
            x[i, r0:r0 + 4, c0:c0 + 4] = 255
        write_idx(os.path.join(root, "MNIST", images), (n, 28, 28), x.flatten().tolist())
        write_idx(os.path.join(root, "MNIST", labels), (n,), y.to(torch.uint8).tolist())


CONFIG = """common_args: {training_type: cross_silo, random_seed: 0}
data_args: {dataset: mnist, data_cache_dir: '%(data)s', partition_method: hetero, partition_alpha: 0.5}
model_args: {model: lr}
train_args: {federated_optimizer: FedAvg, client_id_list: '[1, 2]', client_num_in_total: 4,
             client_num_per_round: 2, comm_round: 6, epochs: 1, batch_size: 10,
             client_optimizer: sgd, learning_rate: 0.1, weight_decay: 0.001}
validation_args: {frequency_of_the_test: 2}
comm_args: {backend: INPROC}
tracking_args: {log_file_dir: '%(log)s'}
"""


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def safetensors_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)), 8 + n


def safetensors_names(path):
    return {k for k in safetensors_header(path)[0] if k != "__metadata__"}


def safetensors_tensors(path):
    header, start = safetensors_header(path)
    types = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}
    with open(path, "rb") as f:
        data = f.read()
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        begin, end = h["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[start + begin:start + end]),
                                     dtype=types[h["dtype"]]).reshape(h["shape"])
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Run:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fedsilo-py-")
        synthetic_mnist(self.dir)
        self.config = os.path.join(self.dir, "fedml_config.yaml")
        with open(self.config, "w") as f:
            f.write(CONFIG % {"data": self.dir, "log": os.path.join(self.dir, "log")})

    def argv(self, run_id, *sets, rank=0):
        argv = ["prog", "--cf", self.config, "--run_id", run_id, "--rank", str(rank)]
        for s in sets:
            argv += ["--set", s]
        return argv

    def close(self):
        if not os.environ.get("FEDSILO_KEEP_TEST_DIRS"):
            shutil.rmtree(self.dir, ignore_errors=True)


class FrontEnd(unittest.TestCase):
    def setUp(self):
        self.run_ = Run()

    def tearDown(self):
        self.run_.close()

    def test_args_are_fedml_attributes_checked_by_the_engine(self):
        args = fedsilo.init(argv=self.run_.argv("a", "train_args.comm_round=4"))
        self.assertEqual(args.batch_size, 10)
        self.assertEqual(args.comm_round, 4)
        self.assertEqual(args.federated_optimizer, "FedAvg")
        self.assertEqual(args.n_proc_in_silo, 1)
        self.assertEqual(args.rank, 0)
        # A key changed in Python reaches the engine, checked like the file's.
        args.comm_round = 3
        dataset, classes = fedsilo.data.load(args)
        out = fedsilo.simulate(args, dataset, lambda: fedsilo.model.create(args, classes))
        with open(os.path.join(out["output_dir"], "metrics.jsonl")) as f:
            self.assertEqual(len(f.readlines()), 3)
        args.batch_size = 0
        with self.assertRaisesRegex(ValueError, "train_args.batch_size"):
            args.engine()
        with self.assertRaisesRegex(ValueError, "train_args.bogus"):
            fedsilo.init(argv=self.run_.argv("b", "train_args.bogus=1"))

    def test_fedml_dataset_list_holds_dataloaders(self):
        args = fedsilo.init(argv=self.run_.argv("c"))
        dataset, classes = fedsilo.data.load(args)
        self.assertEqual(len(dataset), 8)
        train_num, test_num, train_global, test_global, local_num, train_local, test_local, k = (
            dataset)
        self.assertEqual((train_num, test_num, k, classes), (300, 60, 10, 10))
        self.assertEqual(sorted(local_num), [0, 1, 2, 3])
        self.assertEqual(sum(local_num.values()), 300)
        x, y = next(iter(train_local[0]))
        self.assertEqual(x.dtype, torch.float32)
        self.assertLessEqual(float(x.max()), 1.0)
        self.assertEqual(y.dtype, torch.int64)
        self.assertEqual(sum(len(b[1]) for b in test_global), 60)

    def test_a_python_model_trains_in_place_to_the_cpp_models_bytes(self):
        args = fedsilo.init(argv=self.run_.argv("py"))
        dataset, classes = fedsilo.data.load(args)
        out = fedsilo.simulate(args, dataset, lambda: fedsilo.model.create(args, classes))
        self.assertTrue(BUILD, "FEDSILO_BUILD_DIR is not set")
        subprocess.run([os.path.join(BUILD, "fedsilo"), "simulate"] + self.run_.argv("cpp")[1:],
                       check=True, capture_output=True)
        cpp_dir = os.path.join(self.run_.dir, "log", "run_cpp")
        self.assertEqual(sha256(os.path.join(out["output_dir"], "final_model.safetensors")),
                         sha256(os.path.join(cpp_dir, "final_model.safetensors")))
        self.assertGreater(out["final_metrics"]["test_acc"], 0.5)

    def test_any_module_shape_with_buffers_and_dropout(self):
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.BatchNorm1d(32),
                                          nn.ReLU(), nn.Dropout(0.1))
                self.head = nn.Linear(32, 10)
                self.register_buffer("scratch", torch.zeros(1), persistent=False)

            def forward(self, x):
                return self.head(self.body(x))

        args = fedsilo.init(argv=self.run_.argv("net"))
        dataset, _ = fedsilo.data.load(args)
        made = []

        def make():
            torch.manual_seed(args.random_seed)
            made.append(Net())
            return made[-1]

        out = fedsilo.simulate(args, dataset, make)
        names = safetensors_names(os.path.join(out["output_dir"], "final_model.safetensors"))
        self.assertEqual(names, set(made[0].state_dict().keys()))
        self.assertIn("body.2.running_mean", names)
        self.assertNotIn("scratch", names)
        self.assertGreater(out["final_metrics"]["test_acc"], 0.5)
        # The engine trained the modules' own tensors: the server's holds the final model.
        server = made[0]
        self.assertFalse(torch.equal(server.head.weight, Net().head.weight))

    def test_the_seeds_custom_data_and_model_example(self):
        # FedML's LEAF MNIST loader, its split for distributed trainers, the example's own
        # sigmoid LogisticRegression, and args.client_num_in_total set in Python.
        ex = example("custom_data_and_model")
        args = fedsilo.init(argv=self.run_.argv(
            "custom", "data_args.data_cache_dir=%s/" % self.run_.dir,
            "model_args.model=lr", "data_args.partition_method=natural"))
        dataset, classes = ex.load_data(args)
        self.assertEqual(args.client_num_in_total, 300)  # one LEAF user per synthetic sample
        self.assertEqual(len(dataset[5][0]), args.n_proc_in_silo, "FedML's split shape")
        made = []

        def make():
            made.append(ex.LogisticRegression(28 * 28, classes))
            return made[-1]

        out = fedsilo.simulate(args, dataset, make)
        with open(os.path.join(out["output_dir"], "metrics.jsonl")) as f:
            rounds = [json.loads(line) for line in f]
        self.assertEqual(len(rounds), 6)
        self.assertTrue(all(0 <= s["data_silo_index"] < 300 for r in rounds for s in r["silos"]))
        self.assertIn("test_acc", out["final_metrics"])

    def test_a_dataset_built_in_python_is_checked(self):
        args = fedsilo.init(argv=self.run_.argv("built"))
        x = torch.rand(20, 784)
        y = torch.randint(0, 10, (20,))
        loader = [(x[:10], y[:10]), (x[10:], y[10:])]
        good = [20, 20, loader, loader, {0: 10, 1: 10}, {0: [loader[0]], 1: (x[10:], y[10:])},
                {0: loader, 1: loader}, 10]
        with self.assertRaisesRegex(ValueError, "no data silo 2, 3 of the 4"):
            fedsilo.simulate(args, good, lambda: fedsilo.model.create(args, 10))
        args.client_num_in_total = 2
        fedsilo.simulate(args, good, lambda: fedsilo.model.create(args, 10))
        wrong_count = list(good)
        wrong_count[4] = {0: 10, 1: 11}
        with self.assertRaisesRegex(ValueError, r"silo 1 holds 10 samples.*says 11"):
            fedsilo.simulate(args, wrong_count, lambda: fedsilo.model.create(args, 10))
        bad_label = list(good)
        bad_label[3] = (x, torch.full((20,), 12))
        with self.assertRaisesRegex(ValueError, r"test_data_global.*outside \[0, class_num"):
            fedsilo.simulate(args, bad_label, lambda: fedsilo.model.create(args, 10))

    def test_a_training_loop_that_diverges_loses_its_update_not_the_run(self):
        class Broken(fedsilo.ClientTrainer):
            def train(self, train_data, device, args):
                with torch.no_grad():
                    self.model.linear.weight.fill_(float("nan"))

        args = fedsilo.init(argv=self.run_.argv("nan", "train_args.min_clients_per_round=1"))
        dataset, classes = fedsilo.data.load(args)
        out = fedsilo.simulate(args, dataset, lambda: fedsilo.model.create(args, classes),
                               client_trainer=Broken(fedsilo.model.create(args, classes), args))
        with open(os.path.join(out["output_dir"], "metrics.jsonl")) as f:
            rounds = [json.loads(line) for line in f]
        self.assertTrue(all(s.get("rejected") for r in rounds for s in r["silos"]))
        self.assertTrue(all(r["aggregate_rejected"] for r in rounds))

        class WrongShape(fedsilo.ClientTrainer):
            def train(self, train_data, device, args):
                pass

            def get_model_params(self):
                return {"linear.weight": torch.zeros(3, 3), "linear.bias": torch.zeros(10)}

        args = fedsilo.init(argv=self.run_.argv("shape"))  # a new run: "nan" has finished
        with self.assertRaisesRegex(ValueError, "linear.weight has another shape"):
            fedsilo.simulate(args, dataset, lambda: fedsilo.model.create(args, classes),
                             client_trainer=WrongShape(fedsilo.model.create(args, classes), args))

    def test_fedmls_client_trainer_and_server_aggregator_in_python(self):
        calls = {"train": 0, "aggregate": 0, "test": 0}

        class MyTrainer(fedsilo.ClientTrainer):
            def train(self, train_data, device, args):
                calls["train"] += 1
                opt = torch.optim.SGD(self.model.parameters(), lr=args.learning_rate)
                for _ in range(args.epochs):
                    for x, y in train_data:
                        opt.zero_grad()
                        nn.functional.cross_entropy(self.model(x), y).backward()
                        opt.step()

        class MyAggregator(fedsilo.ServerAggregator):
            def aggregate(self, raw_client_model_or_grad_list):
                calls["aggregate"] += 1
                total = sum(n for n, _ in raw_client_model_or_grad_list)
                keys = raw_client_model_or_grad_list[0][1].keys()
                return {k: sum(p[k] * (n / total) for n, p in raw_client_model_or_grad_list)
                        for k in keys}

            def test(self, test_data, device, args):
                calls["test"] += 1
                correct = total = 0
                with torch.no_grad():
                    for x, y in test_data:
                        correct += int((self.model(x).argmax(1) == y).sum())
                        total += len(y)
                return {"test_acc": correct / total, "my_figure": 7}

        args = fedsilo.init(argv=self.run_.argv("custom_loop"))
        dataset, classes = fedsilo.data.load(args)
        trainer = MyTrainer(fedsilo.model.create(args, classes), args)
        aggregator = MyAggregator(fedsilo.model.create(args, classes), args)
        out = fedsilo.simulate(args, dataset, lambda: fedsilo.model.create(args, classes),
                               client_trainer=trainer, server_aggregator=aggregator)
        self.assertEqual(calls["train"], 12)  # 2 silos x 6 rounds
        self.assertEqual(calls["aggregate"], 6)
        self.assertEqual(calls["test"], 4)  # every 2nd round (0, 2, 4) and the last (5)
        self.assertEqual(out["final_metrics"]["my_figure"], 7)
        self.assertGreater(out["final_metrics"]["test_acc"], 0.5)

    def test_only_fedmls_base_classes_are_taken(self):
        class Loop(fedsilo.ClientTrainer):
            def train(self, train_data, device, args):
                pass

        args = fedsilo.init(argv=self.run_.argv("two"))
        dataset, classes = fedsilo.data.load(args)
        with self.assertRaisesRegex(ValueError, "ClientTrainer"):
            fedsilo.simulate(args, dataset, lambda: fedsilo.model.create(args, classes),
                             client_trainer=object())

    def test_a_one_line_program_with_a_bad_config_exits_2_naming_the_key(self):
        argv = self.run_.argv("oneline", "train_args.batch_size=-1", rank=1)[1:]
        r = subprocess.run([sys.executable, os.path.join(HERE, "run_party.py")] + argv,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 2, r.stderr[-2000:])
        self.assertIn("fedsilo: error:", r.stderr)
        self.assertIn("train_args.batch_size", r.stderr)
        self.assertNotIn("Traceback", r.stderr)

    def test_not_a_module_is_refused_naming_it(self):
        args = fedsilo.init(argv=self.run_.argv("bad"))
        dataset, _ = fedsilo.data.load(args)
        with self.assertRaisesRegex(ValueError, "torch.nn.Module"):
            fedsilo.simulate(args, dataset, lambda: "not a model")


class Distributed(unittest.TestCase):
    """Server and silos as separate Python programs (FedML's one line) over a real mosquitto."""

    def setUp(self):
        self.run_ = Run()
        self.port = free_port()
        conf = os.path.join(self.run_.dir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
                    "persistence false\n%s" % (self.port, "user root\n" if os.geteuid() == 0
                                               else ""))
        self.broker = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.broker.poll() is not None:
                    raise RuntimeError("mosquitto did not listen on port %d" % self.port)
                time.sleep(0.05)
        self.mqtt = os.path.join(self.run_.dir, "mqtt_config.yaml")
        with open(self.mqtt, "w") as f:
            f.write("BROKER_HOST: 127.0.0.1\nBROKER_PORT: %d\nMQTT_KEEPALIVE: 10\n" % self.port)

    def tearDown(self):
        self.broker.terminate()
        self.broker.wait(timeout=10)
        self.run_.close()

    def test_python_programs_run_the_seed_and_equal_simulate(self):
        dist, sim = self.run_parties()
        self.assertEqual(sha256(dist), sha256(sim))

    def test_two_python_trainers_per_silo_equal_one(self):
        # The silo's launcher starts the same Python program twice per silo; the engine's trainer
        # all-reduces every step's gradients of the Python model's own tensors, so two trainers
        # of batch 10 step like one of batch 20 (up to float sums in another order, as in C++).
        dist, sim = self.run_parties("client_silo_args.n_proc_per_node=2",
                                     simulate_sets=["train_args.batch_size=20"])
        self.assertNotEqual(sha256(dist), sha256(sim), "the sums ran in another order")
        a, b = safetensors_tensors(dist), safetensors_tensors(sim)
        self.assertEqual(a.keys(), b.keys())
        for k in a:
            self.assertTrue(torch.allclose(a[k], b[k], rtol=1e-4, atol=1e-5),
                            "%s differs by %g" % (k, float((a[k] - b[k]).abs().max())))
        with open(os.path.join(self.run_.dir, "party1.log")) as f:
            self.assertIn("trainer 1", f.read(), "silo 1 ran two trainers")

    def test_the_seeds_custom_example_as_programs(self):
        self.run_parties("data_args.data_cache_dir=%s/" % self.run_.dir,
                         "data_args.partition_method=natural",
                         script=os.path.join(EXAMPLES, "custom_data_and_model.py"),
                         compare=False)
        with open(os.path.join(self.run_.dir, "log", "run_dist", "metrics.jsonl")) as f:
            self.assertEqual(len(f.readlines()), 6)

    def test_silos_with_a_python_training_loop_equal_simulate(self):
        self.run_parties(env={"FEDSILO_TEST_PY_TRAINER": "1"}, compare=False)
        with open(os.path.join(self.run_.dir, "log", "run_dist", "metrics.jsonl")) as f:
            last = json.loads(f.readlines()[-1])
        self.assertGreater(last["test_acc"], 0.5)
        # The same loop under simulate: the same bytes (the loader's shuffle is seeded from the
        # round and the data silo, as the engine's own).
        sys.path.insert(0, HERE)
        import run_party
        args = fedsilo.init(argv=self.run_.argv("sim_loop"))
        dataset, classes = fedsilo.data.load(args)
        model = fedsilo.model.create(args, classes)
        out = fedsilo.simulate(args, dataset, lambda: fedsilo.model.create(args, classes),
                               client_trainer=run_party.Loop(model, args))
        self.assertEqual(
            sha256(os.path.join(self.run_.dir, "log", "run_dist", "final_model.safetensors")),
            sha256(os.path.join(out["output_dir"], "final_model.safetensors")))

    def test_a_python_loop_and_aggregator_distributed_equal_simulate(self):
        self.run_parties(env={"FEDSILO_TEST_PY_TRAINER": "1", "FEDSILO_TEST_PY_AGGREGATOR": "1"},
                         compare=False)
        sys.path.insert(0, HERE)
        import run_party
        args = fedsilo.init(argv=self.run_.argv("sim_both"))
        dataset, classes = fedsilo.data.load(args)
        out = fedsilo.simulate(
            args, dataset, lambda: fedsilo.model.create(args, classes),
            client_trainer=run_party.Loop(fedsilo.model.create(args, classes), args),
            server_aggregator=run_party.Mean(fedsilo.model.create(args, classes), args))
        self.assertEqual(
            sha256(os.path.join(self.run_.dir, "log", "run_dist", "final_model.safetensors")),
            sha256(os.path.join(out["output_dir"], "final_model.safetensors")))
        with open(os.path.join(self.run_.dir, "log", "run_dist", "metrics.jsonl")) as f:
            self.assertGreater(json.loads(f.readlines()[-1])["test_acc"], 0.5)

    def test_a_python_training_loop_refuses_two_trainers_per_silo(self):
        codes, logs = self.run_parties("client_silo_args.n_proc_per_node=2",
                                       "comm_args.online_timeout_s=5",
                                       env={"FEDSILO_TEST_PY_TRAINER": "1"}, expect_codes=None)
        self.assertEqual(codes[1:], [2, 2], logs)
        self.assertIn("one trainer per silo", logs[1])

    def run_parties(self, *extra, simulate_sets=(), script=None, compare=True, env=None,
                    expect_codes=(0, 0, 0)):
        sets = ["comm_args.backend=MQTT_S3", "comm_args.mqtt_config_path=" + self.mqtt,
                "comm_args.object_store=file://" + os.path.join(self.run_.dir, "blobs"),
                "comm_args.round_timeout_s=60", "comm_args.online_timeout_s=60"] + list(extra)
        env = dict(os.environ, **(env or {}))
        procs = []
        for rank in (0, 1, 2):
            argv = self.run_.argv("dist", *sets, rank=rank)[1:]
            with open(os.path.join(self.run_.dir, "party%d.log" % rank), "w") as log:
                procs.append(subprocess.Popen(
                    [sys.executable, script or os.path.join(HERE, "run_party.py")] + argv, env=env,
                    stdout=log, stderr=subprocess.STDOUT))
        codes = [p.wait(timeout=240) for p in procs]
        logs = {}
        for rank in (0, 1, 2):
            with open(os.path.join(self.run_.dir, "party%d.log" % rank)) as f:
                logs[rank] = f.read()[-4000:]
        if expect_codes is None:
            return codes, logs
        self.assertEqual(codes, list(expect_codes), logs)
        if not compare:
            return None
        args = fedsilo.init(argv=self.run_.argv("sim", *simulate_sets))
        dataset, classes = fedsilo.data.load(args)
        out = fedsilo.simulate(args, dataset, lambda: fedsilo.model.create(args, classes))
        return (os.path.join(self.run_.dir, "log", "run_dist", "final_model.safetensors"),
                os.path.join(out["output_dir"], "final_model.safetensors"))


if __name__ == "__main__":
    unittest.main()
