"""The seed's five-line example with its imports changed."""
import fedsilo as fedml
from fedsilo.cross_silo.hierarchical import Client, Server

if __name__ == "__main__":
    args = fedml.init()
    device = fedml.device.get_device(args)
    dataset, output_dim = fedml.data.load_cross_silo(args)
    model = fedml.model.create(args, output_dim)
    runner = Server if args.rank == 0 else Client
    raise SystemExit(runner(args, device, dataset, model).run())
