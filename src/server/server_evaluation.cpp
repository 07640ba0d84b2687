#include "server/server_evaluation.h"

#include "fedsilo/trainer.h"

namespace fedsilo::cross_silo {

Evaluator evaluate_on_server(const FederatedDataset& dataset) {
  return [&dataset](Model& model, int64_t) {
    auto test = evaluate(model, dataset.test_data_global);
    auto train = evaluate(model, dataset.train_data_global);
    return nlohmann::json{{"test_acc", test.accuracy},
                          {"test_loss", test.loss},
                          {"train_acc", train.accuracy},
                          {"train_loss", train.loss},
                          {"test_samples", test.num_samples}};
  };
}

}  // namespace fedsilo::cross_silo
