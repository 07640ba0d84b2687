#pragma once
#include "cross_silo/server_manager.h"
#include "fedsilo/dataset.h"

namespace fedsilo::cross_silo {

// FedML's test_on_server_for_all_clients, working: accuracy and loss of the global model on the
// global test set and on all silos' training data.
Evaluator evaluate_on_server(const FederatedDataset& dataset);

}  // namespace fedsilo::cross_silo
