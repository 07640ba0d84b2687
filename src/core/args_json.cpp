#include "core/args_json.h"

namespace fedsilo {

nlohmann::json args_to_json(const Args& a) {
  return {
      {"common_args",
       {{"training_type", a.training_type},
        {"scenario", a.scenario},
        {"random_seed", a.random_seed}}},
      {"data_args",
       {{"dataset", a.dataset},
        {"data_cache_dir", a.data_cache_dir},
        {"partition_method", a.partition_method},
        {"partition_alpha", a.partition_alpha},
        {"partition_min_size", a.partition_min_size}}},
      {"model_args", {{"model", a.model}}},
      {"train_args",
       {{"federated_optimizer", a.federated_optimizer},
        {"client_id_list", a.client_id_list},
        {"client_num_in_total", a.client_num_in_total},
        {"client_num_per_round", a.client_num_per_round},
        {"comm_round", a.comm_round},
        {"epochs", a.epochs},
        {"batch_size", a.batch_size},
        {"client_optimizer", a.client_optimizer},
        {"learning_rate", a.learning_rate},
        {"momentum", a.momentum},
        {"weight_decay", a.weight_decay}}},
      {"validation_args", {{"frequency_of_the_test", a.frequency_of_the_test}}},
      {"device_args",
       {{"worker_num", a.worker_num}, {"using_gpu", a.using_gpu}, {"num_threads", a.num_threads}}},
      {"comm_args",
       {{"backend", a.backend},
        {"object_store", a.object_store},
        {"online_timeout_s", a.online_timeout_s},
        {"round_timeout_s", a.round_timeout_s},
        {"resend_interval_s", a.resend_interval_s},
        {"blob_retention_rounds", a.blob_retention_rounds}}},
      {"tracking_args", {{"log_file_dir", a.log_file_dir}, {"log_level", a.log_level}}},
      {"client_silo_args",
       {{"n_node_in_silo", a.n_node_in_silo},
        {"n_proc_per_node", a.n_proc_per_node},
        {"pg_master_address", a.pg_master_address},
        {"pg_master_port", a.pg_master_port}}},
      {"run", {{"run_id", a.run_id}, {"config_file", a.config_file}}},
  };
}

}  // namespace fedsilo
