// SCRAM (RFC 5802, RFC 7677) server side, for MQTT 5 enhanced authentication (§4.12):
//
//   client-first   "n,,n=user,r=<client nonce>"
//   server-first   "r=<client nonce><server nonce>,s=<base64 salt>,i=<iterations>"
//   client-final   "c=biws,r=<nonce>,p=<base64 ClientProof>"
//   server-final   "v=<base64 ServerSignature>"
//
// The server never sees the password: it holds StoredKey = H(HMAC(SaltedPassword, "Client
// Key")) and ServerKey = HMAC(SaltedPassword, "Server Key") (RFC 5802 §3), found through a
// lookup function (a password file, see password_file.hpp). Channel binding is not offered
// ("n" and "y" are accepted, "p=" is refused); SASLprep is simplified to refusing user names
// with non-ASCII or control characters ('=2C' and '=3D' are decoded as RFC 5802 says).
//
// Usage: one scram_server per exchange; call step() with each client message until it
// returns success (with the server-final data) or failure. Never throws on client input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace colony::config {

enum class scram_digest : std::uint8_t { sha256, sha512 };

/// "SCRAM-SHA-256" or "SCRAM-SHA-512": the MQTT Authentication Method names.
std::string_view scram_method_name(scram_digest d) noexcept;
/// Output size of the digest in bytes (32 or 64).
std::size_t scram_digest_size(scram_digest d) noexcept;

/// What a server stores for one user and one digest (RFC 5803's authPassword fields).
struct scram_keys {
  scram_digest digest = scram_digest::sha256;
  unsigned iterations = 0;
  std::string salt;       ///< raw bytes
  std::string stored_key; ///< raw bytes, digest size
  std::string server_key; ///< raw bytes, digest size
};

/// Keys from SaltedPassword = Hi(password, salt, iterations) (RFC 5802 §3).
scram_keys scram_keys_from_salted(scram_digest d, std::string_view salted_password,
                                  std::string_view salt, unsigned iterations);
/// Computes SaltedPassword with PBKDF2-HMAC (dkLen = digest size), then the keys. Nullopt
/// only if OpenSSL fails.
std::optional<scram_keys> scram_keys_from_password(scram_digest d, std::string_view password,
                                                   std::string_view salt, unsigned iterations);

/// Iteration count of SCRAM-SHA-256 entries Colony writes (RFC 7677 §4 asks for >= 4096).
inline constexpr unsigned default_scram_iterations = 4096;
/// Longest client message accepted (anything longer fails the exchange).
inline constexpr std::size_t scram_max_message = 2048;

class scram_server {
public:
  /// Finds the keys of `user` for this server's digest; nullopt for an unknown user (the
  /// exchange then continues with made-up keys and fails at the proof, RFC 5802 §5.1).
  using lookup_fn = std::function<std::optional<scram_keys>(std::string_view user)>;

  enum class status : std::uint8_t { proceed, success, failure };
  struct result {
    status what = status::failure;
    std::string data;  ///< proceed: server-first; success: server-final
    std::string error; ///< failure: why, for logs (never a secret)
  };

  /// `server_nonce` empty = 18 random bytes from RAND_bytes, base64 (tests inject one).
  scram_server(scram_digest digest, lookup_fn lookup, std::string server_nonce = {});

  /// Feeds one client message (client-first, then client-final).
  [[nodiscard]] result step(std::string_view client_message);

  /// The authenticated user name (decoded), valid after success.
  const std::string& user() const noexcept { return user_; }
  scram_digest digest() const noexcept { return digest_; }

private:
  result on_client_first(std::string_view msg);
  result on_client_final(std::string_view msg);
  result fail(std::string why);

  enum class stage : std::uint8_t { client_first, client_final, done };
  scram_digest digest_;
  lookup_fn lookup_;
  std::string server_nonce_;
  stage stage_ = stage::client_first;
  std::string user_;
  bool known_user_ = false;
  scram_keys keys_;
  std::string gs2_header_;
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_; ///< client nonce + server nonce
};

} // namespace colony::config
