#pragma once
// attack_args: silos that misbehave on purpose, so that a defense can be measured (FedML's
// byzantine and label_flipping attacks). Off unless attack_args.enable_attack is true; every
// attacking silo says so in its log at start and in each round.
#include <string>
#include <vector>

#include "fedsilo/args.h"
#include "fedsilo/dataset.h"
#include "fedsilo/state_dict.h"

namespace fedsilo::attacks {

// The attacking silos: a fixed set for the whole run, drawn from client_id_list by
// random_seed (byzantine: attack_args.byzantine_client_num of them; label_flipping: that, or
// ratio_of_poisoned_client of the silos, at least one). Empty when attacks are off.
std::vector<int> attacking_silos(const Args& args);
bool is_attacker(const Args& args, int64_t silo);
// The attack in a silo's start-up warning ("byzantine, attack_mode zero").
std::string describe(const Args& args);
// Whether silo `silo` replaces its trained model (byzantine) before upload.
bool replaces_model(const Args& args, int64_t silo);

// label_flipping: a copy of `data` whose labels in original_class_list become the matching
// target_class_list entry.
TensorData flip_labels(const Args& args, const TensorData& data);
// What silo `silo` trains on: `data`, or its flipped copy when the silo flips labels.
TensorData data_to_train_on(const Args& args, int64_t silo, const TensorData& data);

// byzantine: replaces the trained `model` in place (zero: zeros; random: uniform [0, 1) drawn
// from (random_seed, round, silo); flip: global + (global - model), the update reversed).
// Integer buffers are left alone.
void corrupt_model(const Args& args, int64_t round, int64_t silo, const StateDict& global,
                   StateDict& model);

}  // namespace fedsilo::attacks
