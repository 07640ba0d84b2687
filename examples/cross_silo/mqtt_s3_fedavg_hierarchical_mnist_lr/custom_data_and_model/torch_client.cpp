#include <iostream>

#include "custom.h"

int main(int argc, char** argv) try {
  auto args = fedsilo::init(argc, argv);
  auto device = fedsilo::device::get_device(args);
  auto [dataset, output_dim] = load_data(args);
  auto model = make_model(args, output_dim);
  return fedsilo::cross_silo::hierarchical::Client(args, device, dataset, model).run();
} catch (const std::exception& e) {
  std::cerr << "torch_client: " << e.what() << std::endl;
  return 2;
}
