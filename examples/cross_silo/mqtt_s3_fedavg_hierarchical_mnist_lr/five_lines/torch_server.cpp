#include <fedsilo/fedsilo.h>

#include <iostream>

int main(int argc, char** argv) try {
  auto args = fedsilo::init(argc, argv);
  auto device = fedsilo::device::get_device(args);
  auto [dataset, output_dim] = fedsilo::data::load_cross_silo(args);
  auto model = fedsilo::model::create(args, output_dim);
  return fedsilo::cross_silo::hierarchical::Server(args, device, dataset, model).run();
} catch (const std::exception& e) {
  std::cerr << "torch_server: " << e.what() << std::endl;
  return 2;
}
