#include "fedsilo/provision.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "comm/message_auth.h"
#include "comm/tls_certificates.h"
#include "core/file_write.h"
#include "fedsilo/error.h"
#include "fedsilo/exit_code.h"

namespace fedsilo {
namespace fs = std::filesystem;

namespace {

constexpr int kMaxSilos = 10000;

bool is_ip_address(const std::string& host) {
  in_addr v4{};
  in6_addr v6{};
  return ::inet_pton(AF_INET, host.c_str(), &v4) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

// An IP address, or a DNS name (RFC 1123 labels): what goes into a certificate and into YAML
// unquoted, so nothing else may pass.
bool is_host(const std::string& h) {
  if (is_ip_address(h)) return true;
  if (h.empty() || h.size() > 253) return false;
  size_t start = 0;
  while (start <= h.size()) {
    size_t end = h.find('.', start);
    if (end == std::string::npos) end = h.size();
    std::string label = h.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-' ||
        label.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != std::string::npos)
      return false;
    start = end + 1;
  }
  // All digits and dots but not an address (999.1.1.1): a typo, not a name.
  return h.find_first_not_of("0123456789.") != std::string::npos;
}

void write_public(const fs::path& path, const std::string& text) {
  write_file_atomically(path.string(), text, 0644);
}

void write_secret(const fs::path& path, const std::string& text) {
  write_file_atomically(path.string(), text, 0600);
}

void make_dir(const fs::path& dir, mode_t mode) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("provision: cannot create " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), mode);
}

// The broker authenticates by certificate (user name = the certificate's common name), so each
// participant may only use the topics of its own id; see docs/deployment.md.
std::string acl_file(int silos) {
  std::string acl =
      "# Written by fedsilo provision. The user is the client certificate's common name.\n"
      "user server\n"
      "topic read fedsilo/+/c2s/+\n"
      "topic write fedsilo/+/s2c/+\n"
      "topic readwrite fedsilo/+/probe/0\n";
  for (int k = 1; k <= silos; ++k) {
    acl += fmt::format(
        "\nuser silo_{0}\ntopic read fedsilo/+/s2c/{0}\ntopic write fedsilo/+/c2s/{0}\n"
        "topic readwrite fedsilo/+/probe/{0}\n",
        k);
  }
  return acl;
}

std::string mosquitto_conf(const ProvisionOptions& o, const fs::path& broker_dir) {
  auto at = [&](const char* name) { return (broker_dir / name).string(); };
  return fmt::format(
      "# Written by fedsilo provision: mosquitto -c {conf}\n"
      "# TLS only, every client presents a certificate from this federation's CA, and the\n"
      "# certificate's common name is the user the ACL confines.\n"
      "per_listener_settings false\n"
      "allow_anonymous false\n"
      "set_tcp_nodelay true\n"
      "acl_file {acl}\n"
      "listener {port}{bind}\n"
      "cafile {ca}\n"
      "certfile {cert}\n"
      "keyfile {key}\n"
      "require_certificate true\n"
      "use_identity_as_username true\n"
      "tls_version tlsv1.2\n",
      fmt::arg("conf", at("mosquitto.conf")), fmt::arg("acl", at("acl")),
      fmt::arg("port", o.broker_port),
      fmt::arg("bind", o.broker_bind.empty() ? "" : " " + o.broker_bind),
      fmt::arg("ca", at("ca.crt")), fmt::arg("cert", at("broker.crt")),
      fmt::arg("key", at("broker.key")));
}

std::string mqtt_config(const ProvisionOptions& o, const std::string& party) {
  return fmt::format(
      "# Written by fedsilo provision for {party}. Relative paths resolve next to this file.\n"
      "BROKER_HOST: {host}\n"
      "BROKER_PORT: {port}\n"
      "MQTT_KEEPALIVE: 60\n"
      "MQTT_TLS_CA: certs/ca.crt\n"
      "MQTT_TLS_CERT: certs/{party}.crt\n"
      "MQTT_TLS_KEY: certs/{party}.key\n",
      fmt::arg("party", party), fmt::arg("host", o.broker_host), fmt::arg("port", o.broker_port));
}

std::string participant_readme(const std::string& party) {
  return fmt::format(
      "# {0}\n\n"
      "This folder is {0}'s identity in the federation; give it to {0} only.\n\n"
      "- `certs/{0}.key`, `keys/{0}.secret`: secret. Never copy them anywhere else.\n"
      "- `mqtt_config.yaml`: the broker, over TLS with this participant's certificate.\n"
      "- `keys/*.pub`: the signing keys of the parties {0} hears from.\n\n"
      "Point fedml_config.yaml at this folder:\n\n"
      "```yaml\n"
      "comm_args:\n"
      "  mqtt_config_path: <this folder>/mqtt_config.yaml\n"
      "security_args:\n"
      "  key_dir: <this folder>/keys\n"
      "```\n\n"
      "or pass `--set comm_args.mqtt_config_path=... --set security_args.key_dir=...`.\n",
      party);
}

void write_participant(const ProvisionOptions& o, const fs::path& dir, const std::string& party,
                       const comm::CertificateAuthority& ca, const std::string& ca_cert) {
  make_dir(dir / "certs", 0700);
  auto pair = ca.issue({party, {}, {}, /*server=*/false, /*client=*/true, o.days});
  write_public(dir / "certs" / "ca.crt", ca_cert);
  write_public(dir / "certs" / (party + ".crt"), pair.cert);
  write_secret(dir / "certs" / (party + ".key"), pair.key);
  write_public(dir / "mqtt_config.yaml", mqtt_config(o, party));
  write_public(dir / "README.md", participant_readme(party));
}

void copy_public_key(const fs::path& from_dir, const fs::path& to_dir, const std::string& party) {
  std::error_code ec;
  fs::copy_file(from_dir / (party + ".pub"), to_dir / (party + ".pub"),
                fs::copy_options::overwrite_existing, ec);
  if (ec) throw Error("provision: cannot copy " + party + ".pub: " + ec.message());
}

void check(const ProvisionOptions& o) {
  if (o.silos < 1 || o.silos > kMaxSilos)
    throw ConfigError(fmt::format("provision --silos {}: must be 1 to {}", o.silos, kMaxSilos));
  if (o.broker_port < 1 || o.broker_port > 65535)
    throw ConfigError(fmt::format("provision --broker-port {}: must be 1 to 65535", o.broker_port));
  if (o.days < 1 || o.days > 36500)
    throw ConfigError(fmt::format("provision --days {}: must be 1 to 36500", o.days));
  if (o.out_dir.empty()) throw ConfigError("provision --out: required");
  if (!is_host(o.broker_host)) {
    throw ConfigError("provision --broker-host '" + o.broker_host +
                      "': not a host name or IP address (letters, digits, '-' and '.' in labels "
                      "of 1 to 63 characters, or an IPv4 / IPv6 address)");
  }
  if (!o.broker_bind.empty() && !is_ip_address(o.broker_bind))
    throw ConfigError("provision --broker-bind '" + o.broker_bind + "': not an IP address");
  std::error_code ec;
  if (fs::exists(o.out_dir, ec) && !fs::is_empty(o.out_dir, ec)) {
    // Never overwrite a federation's keys: that would lock every participant out.
    throw ConfigError("provision --out " + o.out_dir +
                      ": already holds files; choose an empty or new folder");
  }
}

}  // namespace

namespace {
void write_federation(const ProvisionOptions& o, const fs::path& out);
}  // namespace

void provision(const ProvisionOptions& o) {
  check(o);
  fs::path out = fs::absolute(o.out_dir);
  std::error_code ec;
  bool existed = fs::exists(out, ec);
  try {
    write_federation(o, out);
  } catch (...) {
    // Half a federation is worse than none (a CA key lying about): remove all of it.
    if (existed) {
      for (const auto& e : fs::directory_iterator(out, ec)) fs::remove_all(e.path(), ec);
    } else {
      fs::remove_all(out, ec);
    }
    throw;
  }
}

namespace {

void write_federation(const ProvisionOptions& o, const fs::path& out) {
  make_dir(out, 0755);
  auto ca = comm::CertificateAuthority::create("fedsilo federation CA", o.days);
  auto ca_pem = ca.pem();
  make_dir(out / "ca", 0700);
  write_public(out / "ca" / "ca.crt", ca_pem.cert);
  write_secret(out / "ca" / "ca.key", ca_pem.key);

  fs::path broker = out / "broker";
  make_dir(broker, 0700);
  comm::CertificateRequest req{o.broker_host, {}, {}, /*server=*/true, /*client=*/false, o.days};
  // Participants verify the broker's name; loopback names let the same broker be tested locally.
  for (const std::string& h : {o.broker_host, std::string("localhost")}) {
    if (!is_ip_address(h)) req.dns_names.push_back(h);
  }
  for (const std::string& ip : {o.broker_host, std::string("127.0.0.1"), std::string("::1")}) {
    if (is_ip_address(ip) &&
        std::find(req.ip_addresses.begin(), req.ip_addresses.end(), ip) == req.ip_addresses.end()) {
      req.ip_addresses.push_back(ip);
    }
  }
  auto broker_pair = ca.issue(req);
  write_public(broker / "ca.crt", ca_pem.cert);
  write_public(broker / "broker.crt", broker_pair.cert);
  write_secret(broker / "broker.key", broker_pair.key);
  write_public(broker / "acl", acl_file(o.silos));
  write_public(broker / "mosquitto.conf", mosquitto_conf(o, broker));

  // Signing keys: each party makes its own pair in its own folder; public keys are then copied
  // to the parties that verify them (the server hears every silo, a silo hears the server).
  fs::path server = out / "server";
  write_participant(o, server, "server", ca, ca_pem.cert);
  comm::MessageAuth(server / "keys", 0);
  for (int k = 1; k <= o.silos; ++k) {
    std::string party = comm::MessageAuth::party_name(k);
    fs::path silo = out / party;
    write_participant(o, silo, party, ca, ca_pem.cert);
    comm::MessageAuth(silo / "keys", k);
    copy_public_key(silo / "keys", server / "keys", party);
    copy_public_key(server / "keys", silo / "keys", "server");
  }
}

}  // namespace

int run_provision(int argc, char** argv) {
  ProvisionOptions o;
  CLI::App app{"fedsilo provision: a CA, certificates, signing keys and a broker config"};
  app.add_option("--silos", o.silos, "number of silos")->required();
  app.add_option("--out", o.out_dir, "folder to write (must be new or empty)")->required();
  app.add_option("--broker-host", o.broker_host, "host name or address participants connect to")
      ->capture_default_str();
  app.add_option("--broker-port", o.broker_port, "TLS port")->capture_default_str();
  app.add_option("--broker-bind", o.broker_bind, "address the broker listens on (default: all)");
  app.add_option("--days", o.days, "certificate lifetime in days")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "fedsilo provision: " << e.what() << " (--help lists the options)\n";
    return to_int(ExitCode::kBadInput);
  }
  try {
    provision(o);
  } catch (const ConfigError& e) {
    std::cerr << "fedsilo provision: " << e.what() << "\n";
    return to_int(ExitCode::kBadInput);
  } catch (const std::exception& e) {
    std::cerr << "fedsilo provision: " << e.what() << "\n";
    return to_int(ExitCode::kFailed);
  }
  fs::path out = fs::absolute(o.out_dir);
  std::cout << fmt::format(
      "provisioned {} silo(s) in {}\n"
      "  broker:  mosquitto -c {}\n"
      "  give server/ to the server and silo_<k>/ to silo k (each folder's README.md says how\n"
      "  to use it); keep ca/ offline\n",
      o.silos, out.string(), (out / "broker" / "mosquitto.conf").string());
  return 0;
}

}  // namespace fedsilo
