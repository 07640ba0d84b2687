#pragma once
// read_idx is public (fedsilo/dataset.h): custom data loaders use it too.
#include "fedsilo/dataset.h"
