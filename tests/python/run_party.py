"""FedML's programs with their import changed: the server in FedML's five lines, each silo in
its one line (--rank decides)."""
import sys

import fedsilo

if "--rank" in sys.argv and sys.argv[sys.argv.index("--rank") + 1] == "0":
    args = fedsilo.init()
    device = fedsilo.device.get_device(args)
    dataset, output_dim = fedsilo.data.load(args)
    model = fedsilo.model.create(args, output_dim)
    sys.exit(fedsilo.cross_silo.hierarchical.Server(args, device, dataset, model).run())

fedsilo.run_hierarchical_cross_silo_client()
