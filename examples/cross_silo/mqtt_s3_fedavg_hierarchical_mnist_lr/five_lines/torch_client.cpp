#include <fedsilo/fedsilo.h>

#include <iostream>

int main(int argc, char** argv) try {
  // init fedsilo: FedML's command line and fedml_config.yaml
  auto args = fedsilo::init(argc, argv);
  auto device = fedsilo::device::get_device(args);
  // load data
  auto [dataset, output_dim] = fedsilo::data::load_cross_silo(args);
  // load model
  auto model = fedsilo::model::create(args, output_dim);
  // start training
  return fedsilo::cross_silo::hierarchical::Client(args, device, dataset, model).run();
} catch (const std::exception& e) {
  std::cerr << "torch_client: " << e.what() << std::endl;
  return 2;
}
