#pragma once
#include "fedsilo/dataset.h"
#include "server/server_manager.h"

namespace fedsilo::cross_silo {

// FedML's test_on_server_for_all_clients, working: accuracy and loss of the global model on the
// global test set and on all silos' training data.
Evaluator evaluate_on_server(const FederatedDataset& dataset);

}  // namespace fedsilo::cross_silo
