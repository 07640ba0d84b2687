#pragma once
// Provisioning a federation (docs/deployment.md, "Provisioning"): one command writes everything
// each participant needs to join over TLS with its own identity, like FLARE's startup kits.
//   fedsilo provision --silos 2 --out fed/ --broker-host broker.example.org
#include <string>

namespace fedsilo {

struct ProvisionOptions {
  int silos = 2;
  std::string out_dir;
  std::string broker_host = "localhost";  // the name participants connect to (in the cert)
  int broker_port = 8883;
  std::string broker_bind;  // mosquitto listener address; empty: every interface
  int days = 825;           // certificate lifetime
};

// Writes under out_dir:
//   ca/          the CA's key and certificate (keep offline: it can admit new participants)
//   broker/      mosquitto.conf (TLS, client certificates required, per-participant ACL), acl,
//                ca.crt, broker.crt, broker.key
//   server/, silo_<k>/   mqtt_config.yaml, certs/ (ca.crt, own .crt and .key), keys/ (own
//                signing key and the public keys of the parties it hears from), README.md
// Throws ConfigError (exit 2) when out_dir already holds files or an option is out of range.
void provision(const ProvisionOptions& options);

// `fedsilo provision ...`: parses the options, provisions, prints where things are. Returns the
// exit code.
int run_provision(int argc, char** argv);

}  // namespace fedsilo
