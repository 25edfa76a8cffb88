// TLS: building ssl::contexts from the certificate files (and rebuilding them when the files
// change), and the server side of the TLS handshake for the "mqtts" listener.
#include "transport/tls_stream.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace colony::transport::detail {

namespace {

/// "reason (library)" of the oldest queued OpenSSL error, or `fallback`. Clears the queue.
std::string openssl_error(const std::string& fallback) {
  unsigned long e = ERR_get_error();
  std::string out;
  if (e != 0) {
    const char* reason = ERR_reason_error_string(e);
    const char* lib = ERR_lib_error_string(e);
    out = reason ? reason : "error " + std::to_string(e);
    if (lib)
      out += std::string{" ("} + lib + ")";
  }
  ERR_clear_error();
  return out.empty() ? fallback : out;
}

/// Checks that `path` can be opened, so a missing file gets a plain message.
bool readable(const std::string& what, const std::string& path, std::string& error) {
  std::ifstream in{path};
  if (!in) {
    error = "cannot read " + what + " '" + path + "': " + std::strerror(errno);
    return false;
  }
  return true;
}

std::string serial_of(X509* cert) {
  if (!cert)
    return {};
  const ASN1_INTEGER* sn = X509_get0_serialNumber(cert);
  BIGNUM* bn = ASN1_INTEGER_to_BN(sn, nullptr);
  if (!bn)
    return {};
  char* hex = BN_bn2hex(bn);
  std::string out = hex ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

/// Applies the cipher setting: names starting "TLS_" are TLS 1.3 suites, the rest form the
/// TLS 1.2 cipher list.
bool apply_ciphers(SSL_CTX* ctx, const std::string& spec, std::string& error) {
  if (spec.empty())
    return true;
  std::string list;
  std::string suites;
  std::size_t pos = 0;
  while (pos <= spec.size()) {
    auto end = spec.find(':', pos);
    if (end == std::string::npos)
      end = spec.size();
    auto name = spec.substr(pos, end - pos);
    if (!name.empty()) {
      auto& target = name.rfind("TLS_", 0) == 0 ? suites : list;
      if (!target.empty())
        target += ':';
      target += name;
    }
    pos = end + 1;
  }
  if (!list.empty() && SSL_CTX_set_cipher_list(ctx, list.c_str()) != 1) {
    error = "tls-ciphers: no usable cipher in '" + list + "': " + openssl_error("unknown cipher");
    return false;
  }
  if (!suites.empty() && SSL_CTX_set_ciphersuites(ctx, suites.c_str()) != 1) {
    error = "tls-ciphers: no usable TLS 1.3 suite in '" + suites
            + "': " + openssl_error("unknown suite");
    return false;
  }
  return true;
}

} // namespace

// -- tls_store ------------------------------------------------------------------

tls_store::tls_store(tls_options options) : options_(std::move(options)) {
  if (options_.key_file.empty())
    options_.key_file = options_.cert_file;
}

tls_store::~tls_store() = default;

std::vector<std::string> tls_store::files() const {
  std::vector<std::string> out{options_.cert_file, options_.key_file};
  if (!options_.ca_file.empty())
    out.push_back(options_.ca_file);
  return out;
}

std::vector<tls_store::stamp> tls_store::stamps() const {
  std::vector<stamp> out;
  for (auto& f : files()) {
    stamp s;
    struct stat st {};
    if (::stat(f.c_str(), &st) == 0) {
      s.exists = true;
      s.inode = st.st_ino;
      s.size = st.st_size;
      s.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000
                   + st.st_mtim.tv_nsec;
    }
    out.push_back(s);
  }
  return out;
}

bool tls_store::load(std::string& error) {
  auto before = stamps();
  {
    std::lock_guard<std::mutex> g{mtx_};
    loaded_stamps_ = before; // a broken set of files is not retried until it changes again
  }
  ERR_clear_error();
  if (options_.cert_file.empty()) {
    error = "no certificate file given (tls-cert)";
    return false;
  }
  if (!readable("certificate", options_.cert_file, error)
      || !readable("private key", options_.key_file, error)
      || (!options_.ca_file.empty() && !readable("CA file", options_.ca_file, error)))
    return false;
  if (options_.verify_peer && options_.ca_file.empty()) {
    error = "tls-verify needs a CA file (tls-ca) to check client certificates against";
    return false;
  }

  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* c = ctx->native_handle();
  int min_version = TLS1_2_VERSION;
  if (options_.min_version == "1.3")
    min_version = TLS1_3_VERSION;
  else if (!options_.min_version.empty() && options_.min_version != "1.2") {
    error = "tls-min-version: '" + options_.min_version + "' is not 1.2 or 1.3";
    return false;
  }
  SSL_CTX_set_min_proto_version(c, min_version);
  SSL_CTX_set_options(c, SSL_OP_ALL | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
                           | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_SINGLE_DH_USE);
  SSL_CTX_set_dh_auto(c, 1);
  // Session resumption with client certificates needs a session id context.
  static const unsigned char sid[] = "colony";
  SSL_CTX_set_session_id_context(c, sid, sizeof(sid) - 1);
  if (!apply_ciphers(c, options_.ciphers, error))
    return false;

  if (SSL_CTX_use_certificate_chain_file(c, options_.cert_file.c_str()) != 1) {
    error = "cannot use certificate '" + options_.cert_file
            + "': " + openssl_error("not a PEM certificate");
    return false;
  }
  if (SSL_CTX_use_PrivateKey_file(c, options_.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    error = "cannot use private key '" + options_.key_file
            + "': " + openssl_error("not a PEM private key");
    return false;
  }
  if (SSL_CTX_check_private_key(c) != 1) {
    error = "private key '" + options_.key_file + "' does not match certificate '"
            + options_.cert_file + "'";
    ERR_clear_error();
    return false;
  }
  if (!options_.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(c, options_.ca_file.c_str(), nullptr) != 1) {
      error = "cannot use CA file '" + options_.ca_file
              + "': " + openssl_error("no PEM certificates");
      return false;
    }
    // Tell clients which CAs are accepted, so they pick the right certificate.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options_.ca_file.c_str()))
      SSL_CTX_set_client_CA_list(c, names);
    ERR_clear_error();
    int mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
    if (options_.verify_peer)
      mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(c, mode, nullptr);
  } else {
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
  }
  auto serial = serial_of(SSL_CTX_get0_certificate(c));
  std::lock_guard<std::mutex> g{mtx_};
  current_ = std::move(ctx);
  serial_ = std::move(serial);
  return true;
}

bool tls_store::files_changed() {
  auto now = stamps();
  std::lock_guard<std::mutex> g{mtx_};
  if (now == loaded_stamps_)
    return false;
  loaded_stamps_ = now;
  return true;
}

ssl_context_ptr tls_store::current() const {
  std::lock_guard<std::mutex> g{mtx_};
  return current_;
}

std::string tls_store::serial() const {
  std::lock_guard<std::mutex> g{mtx_};
  return serial_;
}

std::string tls_store::describe() const {
  std::string out = "cert=" + options_.cert_file + " key=" + options_.key_file;
  if (!options_.ca_file.empty())
    out += " ca=" + options_.ca_file;
  return out;
}

// -- helpers --------------------------------------------------------------------

std::string verified_peer_cn(SSL* ssl) {
  if (!ssl)
    return {};
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert || SSL_get_verify_result(ssl) != X509_V_OK)
    return {};
  X509_NAME* name = X509_get_subject_name(cert);
  int idx = name ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
  if (idx < 0)
    return {};
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0)
    return {};
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

std::string handshake_error_text(const boost::system::error_code& ec, SSL* ssl) {
  std::string out = ec.message();
  if (ssl) {
    long v = SSL_get_verify_result(ssl);
    if (v != X509_V_OK)
      out += std::string{": client certificate: "} + X509_verify_cert_error_string(v);
  }
  return out;
}

// -- TLS handshake ----------------------------------------------------------------

namespace {

class tls_handshake : public std::enable_shared_from_this<tls_handshake> {
public:
  tls_handshake(tcp::socket sock, ssl_context_ptr ctx, pending_conn conn)
    : ctx_(std::move(ctx)),
      stream_(std::move(sock), *ctx_),
      timer_(stream_.get_executor()),
      conn_(std::move(conn)) {}

  void start() {
    timer_.expires_at(conn_.deadline);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec)
        return;
      self->timed_out_ = true;
      boost::system::error_code ignored;
      self->stream_.next_layer().close(ignored);
    });
    stream_.async_handshake(ssl::stream_base::server,
                            [self = shared_from_this()](boost::system::error_code ec) {
                              self->on_handshake(ec);
                            });
  }

private:
  void on_handshake(boost::system::error_code ec) {
    timer_.cancel();
    if (ec) {
      conn_.report(event_level::info, "tls handshake failed",
                   timed_out_ ? std::string{"no handshake within the connect timeout"}
                              : handshake_error_text(ec, stream_.native_handle()));
      boost::system::error_code ignored;
      stream_.next_layer().close(ignored);
      return;
    }
    conn_.info.peer_identity = verified_peer_cn(stream_.native_handle());
    conn_.info.keep = ctx_;
    conn_.cfg.connect_timeout = conn_.remaining();
    auto link = make_link(std::move(stream_), std::move(conn_.info), conn_.cfg);
    conn_.ready(std::move(link));
  }

  ssl_context_ptr ctx_;
  ssl_stream stream_;
  asio::steady_timer timer_;
  pending_conn conn_;
  bool timed_out_ = false;
};

} // namespace

void accept_tls(tcp::socket sock, ssl_context_ptr ctx, pending_conn conn) {
  std::make_shared<tls_handshake>(std::move(sock), std::move(ctx), std::move(conn))->start();
}

} // namespace colony::transport::detail
