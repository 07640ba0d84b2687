// fedml_config.yaml: a user's (or a copied, edited, truncated) config file. Every value is
// checked against the schema and a bad one is a ConfigError naming the key.
#include <cstdint>
#include <string>

#include "core/config_choices.h"
#include "fedsilo/args.h"
#include "fedsilo/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The names the higher layers register in a full build, so fuzzing goes past those keys.
  static const bool registered = [] {
    fedsilo::register_config_choices("model_args.model", [] {
      return std::vector<std::string>{"lr", "cnn"};
    });
    fedsilo::register_config_choices("train_args.federated_optimizer",
                                     [] { return std::vector<std::string>{"FedAvg"}; });
    fedsilo::register_config_choices("train_args.client_optimizer", [] {
      return std::vector<std::string>{"sgd", "adam"};
    });
    return true;
  }();
  (void)registered;
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    fedsilo::parse_args_yaml(text);
  } catch (const fedsilo::Error&) {
  }
  return 0;
}
