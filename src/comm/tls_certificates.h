#pragma once
// A small certificate authority for provisioning (OpenSSL): one CA per federation signs the
// broker's server certificate and each participant's client certificate. The broker then
// authenticates participants by certificate and uses the certificate's common name as the MQTT
// user name, so a per-user ACL confines each silo to its own topics without passwords.
#include <memory>
#include <string>
#include <vector>

namespace fedsilo::comm {

struct PemPair {
  std::string key;   // PKCS#8 private key, unencrypted: store it with mode 0600
  std::string cert;  // X.509 certificate
};

struct CertificateRequest {
  std::string common_name;
  std::vector<std::string> dns_names;     // subjectAltName DNS entries (servers)
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries (servers)
  bool server = false;                    // extendedKeyUsage serverAuth
  bool client = false;                    // extendedKeyUsage clientAuth
  int days = 825;
};

class CertificateAuthority {
 public:
  // A new self-signed CA with an EC P-256 key.
  static CertificateAuthority create(const std::string& name, int days);
  ~CertificateAuthority();
  CertificateAuthority(CertificateAuthority&&) noexcept;
  CertificateAuthority& operator=(CertificateAuthority&&) noexcept;

  // A new key pair and a certificate for it, signed by this CA. Throws Error when OpenSSL fails
  // or an IP address does not parse.
  PemPair issue(const CertificateRequest& request) const;
  PemPair pem() const;

 private:
  struct State;
  explicit CertificateAuthority(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace fedsilo::comm
