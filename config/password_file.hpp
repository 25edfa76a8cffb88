// Mosquitto-compatible password files (the format `mosquitto_passwd` writes):
//
//   user:$7$<iterations>$<base64 salt>$<base64 hash>   PBKDF2-HMAC-SHA512 (mosquitto >= 2.0)
//   user:$6$<base64 salt>$<base64 hash>                SHA-512(password + salt), one round
//
// and one Colony format (mosquitto does not read it), for SCRAM-SHA-256 enhanced
// authentication: the fields of RFC 5803's authPassword, '$'-separated like the others:
//
//   user:$scram-sha-256$<iterations>$<base64 salt>$<base64 StoredKey>$<base64 ServerKey>
//
// with SaltedPassword = PBKDF2-HMAC-SHA256(password, salt, iterations, 32 bytes),
// StoredKey = SHA-256(HMAC(SaltedPassword, "Client Key")), ServerKey = HMAC(SaltedPassword,
// "Server Key") (RFC 5802 §3). A plain CONNECT password is checked against it by computing both
// keys. A `$7$` entry serves SCRAM-SHA-512 as it is: its hash is SaltedPassword.
//
// '#' comment lines and blank lines are skipped. Passwords are compared in constant time and
// never logged; error messages name the file, the line and the user, never the hash.
#pragma once

#include "config/load_result.hpp"
#include "config/scram.hpp"

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace colony::config {

/// One decoded hash of a password file.
struct password_hash {
  enum class scheme { sha512, pbkdf2_sha512, scram_sha256 };
  scheme kind = scheme::pbkdf2_sha512;
  unsigned iterations = 0; ///< pbkdf2_sha512 and scram_sha256
  std::string salt;        ///< raw bytes
  std::string hash;        ///< raw bytes (scram_sha256: StoredKey)
  std::string server_key;  ///< scram_sha256 only: ServerKey

  /// Decodes "$7$...", "$6$..." or "$scram-sha-256$...". Sets `error` (without echoing the
  /// text) on failure.
  static std::optional<password_hash> parse(std::string_view text, std::string& error);
  /// Re-encodes as mosquitto_passwd would write it.
  std::string encode() const;
  /// True if `password` hashes to `hash` (constant-time comparison).
  bool matches(std::string_view password) const;
  /// The SCRAM keys this entry provides for `d` (SCRAM-SHA-512 from a full-length `$7$` hash,
  /// SCRAM-SHA-256 from a `$scram-sha-256$` entry), or nullopt.
  std::optional<scram_keys> scram(scram_digest d) const;
};

/// PBKDF2 iteration count of entries Colony creates: mosquitto_passwd's default, so files stay
/// interchangeable in both directions (mosquitto reads any count).
inline constexpr unsigned default_pbkdf2_iterations = 101;

/// The immutable contents of one password file. Cheap to share (`shared_ptr<const
/// password_db>`); safe to use from many threads at once.
class password_db {
public:
  password_db() = default;

  /// Reads and parses `path`. On error: the file, the line and what is wrong.
  static load_result<password_db> load(const std::string& path);
  /// Parses file contents; `name` is used in error messages.
  static load_result<password_db> parse(std::string_view text, const std::string& name);

  /// True if `user` is in the file and `password` is its password. An unknown user costs
  /// about as much time as a known one.
  bool verify(std::string_view user, std::string_view password) const;
  bool has_user(std::string_view user) const;
  /// SCRAM keys of `user` for digest `d`, or nullopt (unknown user, or no such entry kind).
  std::optional<scram_keys> scram_keys_for(std::string_view user, scram_digest d) const;
  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }
  std::vector<std::string> users() const;

private:
  std::map<std::string, password_hash, std::less<>> entries_;
};

/// A password-file line for `user` ("user:$7$101$salt$hash"): PBKDF2-HMAC-SHA512 with a random
/// 12-byte salt (RAND_bytes) and a 64-byte hash, as mosquitto_passwd writes. No newline.
std::string make_entry(std::string_view user, std::string_view password,
                       unsigned iterations = default_pbkdf2_iterations);

/// A `$scram-sha-256$` line for `user` (random 16-byte salt), usable for SCRAM-SHA-256 and
/// plain passwords. No newline.
std::string make_scram_sha256_entry(std::string_view user, std::string_view password,
                                    unsigned iterations = default_scram_iterations);

/// True if `user` may be written to a password file (non-empty, no ':', no control bytes).
bool valid_password_user(std::string_view user);

/// Returns `file_text` with `user`'s line replaced by `entry` (or `entry` appended when the
/// user is new). Other lines, comments included, stay as they are.
std::string upsert_entry(std::string_view file_text, std::string_view user,
                         std::string_view entry);

/// Returns `file_text` without `user`'s line(s); `found` tells whether there was one.
std::string remove_entry(std::string_view file_text, std::string_view user, bool& found);

/// Writes `content` to `path` atomically: a temporary file in the same directory with mode
/// 0600, fsync, then rename over `path`. Returns false and sets `error` on failure.
bool write_file_atomically(const std::string& path, std::string_view content,
                           std::string& error);

/// Base64 (RFC 4648, with padding), as used by mosquitto_passwd.
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

} // namespace colony::config
