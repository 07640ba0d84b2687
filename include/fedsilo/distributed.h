#pragma once
// The server and a silo as separate processes, over MQTT and an object store. Both return the
// process exit code: 0 when the run completed; non-zero, after a log line saying why, when a
// deadline passed (3), the server aborted the run (4) or the process was interrupted (130).
#include "fedsilo/args.h"

namespace fedsilo {

int run_server(const Args& args);
int run_silo(const Args& args);

}  // namespace fedsilo
