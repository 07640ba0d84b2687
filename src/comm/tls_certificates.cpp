#include "comm/tls_certificates.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <functional>

#include "fedsilo/error.h"

namespace fedsilo::comm {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

[[noreturn]] void fail(const std::string& what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "no detail";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  throw Error("tls certificates: " + what + " failed (" + buf + ")");
}

KeyPtr new_key() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) fail("making an EC P-256 key");
  return key;
}

std::string to_pem(const std::function<int(BIO*)>& write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) fail("writing PEM");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string key_pem(EVP_PKEY* key) {
  return to_pem([&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
}

std::string cert_pem(X509* cert) {
  return to_pem([&](BIO* b) { return PEM_write_bio_X509(b, cert); });
}

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) fail("adding extension " + value);
}

// A certificate for `key` named `cn`, not yet signed, valid from now for `days`.
CertPtr new_cert(EVP_PKEY* key, const std::string& cn, int days) {
  CertPtr cert(X509_new());
  if (!cert) fail("X509_new");
  X509_set_version(cert.get(), 2);  // v3
  // A random 127-bit serial (RFC 5280 asks for unique, unpredictable serials).
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) fail("RAND_bytes");
  serial[0] &= 0x7f;
  std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>> bn(BN_bin2bn(serial, sizeof serial, nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())))
    fail("setting the serial");
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);  // tolerate clock skew
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400);
  if (X509_set_pubkey(cert.get(), key) != 1) fail("setting the public key");
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("fedsilo"), -1, -1, 0);
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1) {
    fail("setting the common name " + cn);
  }
  return cert;
}

}  // namespace

struct CertificateAuthority::State {
  KeyPtr key;
  CertPtr cert;
};

CertificateAuthority::CertificateAuthority(std::unique_ptr<State> state)
    : state_(std::move(state)) {}
CertificateAuthority::~CertificateAuthority() = default;
CertificateAuthority::CertificateAuthority(CertificateAuthority&&) noexcept = default;
CertificateAuthority& CertificateAuthority::operator=(CertificateAuthority&&) noexcept = default;

CertificateAuthority CertificateAuthority::create(const std::string& name, int days) {
  auto s = std::make_unique<State>();
  s->key = new_key();
  s->cert = new_cert(s->key.get(), name, days);
  X509_set_issuer_name(s->cert.get(), X509_get_subject_name(s->cert.get()));
  add_ext(s->cert.get(), s->cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  add_ext(s->cert.get(), s->cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(s->cert.get(), s->cert.get(), NID_subject_key_identifier, "hash");
  if (X509_sign(s->cert.get(), s->key.get(), EVP_sha256()) == 0) fail("signing the CA");
  return CertificateAuthority(std::move(s));
}

PemPair CertificateAuthority::issue(const CertificateRequest& r) const {
  KeyPtr key = new_key();
  CertPtr cert = new_cert(key.get(), r.common_name, r.days);
  X509* ca = state_->cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca));
  add_ext(cert.get(), ca, NID_basic_constraints, "critical,CA:FALSE");
  add_ext(cert.get(), ca, NID_key_usage, "critical,digitalSignature,keyAgreement");
  std::string usage;
  if (r.server) usage = "serverAuth";
  if (r.client) usage += std::string(usage.empty() ? "" : ",") + "clientAuth";
  if (!usage.empty()) add_ext(cert.get(), ca, NID_ext_key_usage, usage);
  std::string alt;
  for (const auto& d : r.dns_names) alt += (alt.empty() ? "DNS:" : ",DNS:") + d;
  for (const auto& ip : r.ip_addresses) alt += (alt.empty() ? "IP:" : ",IP:") + ip;
  if (!alt.empty()) add_ext(cert.get(), ca, NID_subject_alt_name, alt);
  add_ext(cert.get(), ca, NID_subject_key_identifier, "hash");
  add_ext(cert.get(), ca, NID_authority_key_identifier, "keyid:always");
  if (X509_sign(cert.get(), state_->key.get(), EVP_sha256()) == 0)
    fail("signing the certificate for " + r.common_name);
  return {key_pem(key.get()), cert_pem(cert.get())};
}

PemPair CertificateAuthority::pem() const {
  return {key_pem(state_->key.get()), cert_pem(state_->cert.get())};
}

}  // namespace fedsilo::comm
