#include "config/password_file.hpp"

#include "config/text.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace colony::config {

namespace {

constexpr std::size_t salt_len = 12; // mosquitto_passwd's SALT_LEN
constexpr std::size_t hash_len = 64; // SHA-512 output
constexpr std::size_t scram_salt_len = 16;
constexpr std::size_t scram_key_len = 32; // SHA-256 output

constexpr char b64_alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

std::string_view trim(std::string_view s) {
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
  };
  while (!s.empty() && is_space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_space(s.back()))
    s.remove_suffix(1);
  return s;
}

bool sha512_salted(std::string_view password, std::string_view salt, unsigned char* out) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr)
    return false;
  unsigned int len = 0;
  bool ok = EVP_DigestInit_ex(ctx, EVP_sha512(), nullptr) == 1
            && EVP_DigestUpdate(ctx, password.data(), password.size()) == 1
            && EVP_DigestUpdate(ctx, salt.data(), salt.size()) == 1
            && EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == hash_len;
  EVP_MD_CTX_free(ctx);
  return ok;
}

bool pbkdf2_sha512(std::string_view password, std::string_view salt, unsigned iterations,
                   unsigned char* out, std::size_t out_len) {
  return PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                           reinterpret_cast<const unsigned char*>(salt.data()),
                           static_cast<int>(salt.size()), static_cast<int>(iterations),
                           EVP_sha512(), static_cast<int>(out_len), out)
         == 1;
}


/// The user name of a password-file line, or nullopt for blank and comment lines.
std::optional<std::string_view> line_user(std::string_view line) {
  auto t = trim(line);
  if (t.empty() || t.front() == '#')
    return std::nullopt;
  auto colon = t.find(':');
  return colon == std::string_view::npos ? t : t.substr(0, colon);
}

/// Calls f(line) for each line of `text` (without its '\n').
template <class F>
void for_each_line(std::string_view text, F&& f) {
  std::size_t start = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      f(text.substr(start));
      return;
    }
    f(text.substr(start, nl - start));
    start = nl + 1;
  }
}

/// Parses the parts of "$scram-sha-256$iter$salt$storedkey$serverkey" split at '$'.
std::optional<password_hash> parse_scram_sha256(const std::vector<std::string_view>& parts,
                                                std::string& error) {
  if (parts.size() != 6) {
    error = "malformed $scram-sha-256$ entry (expected "
            "$scram-sha-256$<iterations>$<salt>$<StoredKey>$<ServerKey>)";
    return std::nullopt;
  }
  password_hash h;
  h.kind = password_hash::scheme::scram_sha256;
  auto it = parts[2];
  unsigned long long n = 0;
  auto [end, ec] = std::from_chars(it.data(), it.data() + it.size(), n);
  if (it.empty() || ec != std::errc{} || end != it.data() + it.size() || n == 0
      || n > static_cast<unsigned long long>(INT_MAX)) {
    error = "malformed $scram-sha-256$ entry: bad iteration count";
    return std::nullopt;
  }
  h.iterations = static_cast<unsigned>(n);
  auto salt = base64_decode(parts[3]);
  auto stored = base64_decode(parts[4]);
  auto server = base64_decode(parts[5]);
  if (!salt || salt->empty()) {
    error = "malformed $scram-sha-256$ entry: the salt is not base64";
    return std::nullopt;
  }
  if (!stored || stored->size() != scram_key_len || !server || server->size() != scram_key_len) {
    error = "malformed $scram-sha-256$ entry: StoredKey and ServerKey must be base64 SHA-256 "
            "digests";
    return std::nullopt;
  }
  h.salt = std::move(*salt);
  h.hash = std::move(*stored);
  h.server_key = std::move(*server);
  return h;
}

} // namespace

// -- base64 -----------------------------------------------------------------------------------

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += b64_alphabet[(v >> 18) & 63];
    out += b64_alphabet[(v >> 12) & 63];
    out += b64_alphabet[(v >> 6) & 63];
    out += b64_alphabet[v & 63];
  }
  if (bytes.size() - i == 1) {
    unsigned v = byte(i) << 16;
    out += b64_alphabet[(v >> 18) & 63];
    out += b64_alphabet[(v >> 12) & 63];
    out += "==";
  } else if (bytes.size() - i == 2) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8);
    out += b64_alphabet[(v >> 18) & 63];
    out += b64_alphabet[(v >> 12) & 63];
    out += b64_alphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0)
    return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + static_cast<std::size_t>(k)];
      if (c == '=' && last && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) // data after padding
        return std::nullopt;
      v[k] = b64_value(c);
      if (v[k] < 0)
        return std::nullopt;
    }
    unsigned n = (static_cast<unsigned>(v[0]) << 18) | (static_cast<unsigned>(v[1]) << 12)
                 | (static_cast<unsigned>(v[2]) << 6) | static_cast<unsigned>(v[3]);
    out += static_cast<char>((n >> 16) & 0xFF);
    if (pad < 2)
      out += static_cast<char>((n >> 8) & 0xFF);
    if (pad < 1)
      out += static_cast<char>(n & 0xFF);
  }
  return out;
}

// -- password_hash ----------------------------------------------------------------------------

std::optional<password_hash> password_hash::parse(std::string_view text, std::string& error) {
  // "$7$iter$salt$hash" splits into "", "7", iter, salt, hash; "$6$salt$hash" into "", "6", ...
  auto parts = split(text, '$');
  if (parts.size() >= 2 && parts[0].empty() && parts[1] == "scram-sha-256")
    return parse_scram_sha256(parts, error);
  if (parts.size() < 2 || !parts[0].empty() || (parts[1] != "6" && parts[1] != "7")) {
    error = "not a mosquitto_passwd hash ($6$ or $7$); plain-text passwords are not supported "
            "(use 'colony passwd' or 'mosquitto_passwd -U')";
    return std::nullopt;
  }
  password_hash h;
  std::string_view salt_b64;
  std::string_view hash_b64;
  if (parts[1] == "7") {
    if (parts.size() != 5) {
      error = "malformed $7$ hash (expected $7$<iterations>$<salt>$<hash>)";
      return std::nullopt;
    }
    h.kind = scheme::pbkdf2_sha512;
    auto it = parts[2];
    unsigned long long n = 0;
    auto [end, ec] = std::from_chars(it.data(), it.data() + it.size(), n);
    if (it.empty() || ec != std::errc{} || end != it.data() + it.size() || n == 0
        || n > static_cast<unsigned long long>(INT_MAX)) {
      error = "malformed $7$ hash: bad iteration count";
      return std::nullopt;
    }
    h.iterations = static_cast<unsigned>(n);
    salt_b64 = parts[3];
    hash_b64 = parts[4];
  } else {
    if (parts.size() != 4) {
      error = "malformed $6$ hash (expected $6$<salt>$<hash>)";
      return std::nullopt;
    }
    h.kind = scheme::sha512;
    salt_b64 = parts[2];
    hash_b64 = parts[3];
  }
  auto salt = base64_decode(salt_b64);
  if (!salt || salt->empty()) {
    error = "malformed hash: the salt is not base64";
    return std::nullopt;
  }
  auto hash = base64_decode(hash_b64);
  if (!hash || hash->empty() || hash->size() > hash_len
      || (h.kind == scheme::sha512 && hash->size() != hash_len)) {
    error = "malformed hash: the hash is not a base64 SHA-512 digest";
    return std::nullopt;
  }
  h.salt = std::move(*salt);
  h.hash = std::move(*hash);
  return h;
}

std::string password_hash::encode() const {
  if (kind == scheme::scram_sha256)
    return "$scram-sha-256$" + std::to_string(iterations) + "$" + base64_encode(salt) + "$"
           + base64_encode(hash) + "$" + base64_encode(server_key);
  if (kind == scheme::sha512)
    return "$6$" + base64_encode(salt) + "$" + base64_encode(hash);
  return "$7$" + std::to_string(iterations) + "$" + base64_encode(salt) + "$"
         + base64_encode(hash);
}

bool password_hash::matches(std::string_view password) const {
  if (kind == scheme::scram_sha256) {
    auto keys = scram_keys_from_password(scram_digest::sha256, password, salt, iterations);
    // Both keys are compared, each in constant time, whatever the first one gave.
    bool stored_ok = keys && hash.size() == keys->stored_key.size()
                     && CRYPTO_memcmp(keys->stored_key.data(), hash.data(), hash.size()) == 0;
    bool server_ok = keys && server_key.size() == keys->server_key.size()
                     && CRYPTO_memcmp(keys->server_key.data(), server_key.data(),
                                      server_key.size()) == 0;
    if (keys) {
      OPENSSL_cleanse(keys->stored_key.data(), keys->stored_key.size());
      OPENSSL_cleanse(keys->server_key.data(), keys->server_key.size());
    }
    return stored_ok && server_ok;
  }
  unsigned char out[hash_len];
  bool ok = false;
  if (kind == scheme::sha512)
    ok = hash.size() == hash_len && sha512_salted(password, salt, out);
  else
    ok = !hash.empty() && hash.size() <= hash_len
         && pbkdf2_sha512(password, salt, iterations, out, hash.size());
  bool equal = ok && CRYPTO_memcmp(out, hash.data(), hash.size()) == 0;
  OPENSSL_cleanse(out, sizeof out);
  return equal;
}

std::optional<scram_keys> password_hash::scram(scram_digest d) const {
  if (d == scram_digest::sha256 && kind == scheme::scram_sha256) {
    scram_keys k;
    k.digest = d;
    k.iterations = iterations;
    k.salt = salt;
    k.stored_key = hash;
    k.server_key = server_key;
    return k;
  }
  if (d == scram_digest::sha512 && kind == scheme::pbkdf2_sha512 && hash.size() == hash_len)
    return scram_keys_from_salted(d, hash, salt, iterations); // the $7$ hash is SaltedPassword
  return std::nullopt;
}

// -- password_db ------------------------------------------------------------------------------

load_result<password_db> password_db::load(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return load_error{path, 0, std::string{"cannot read the password file: "}
                                 + std::strerror(errno)};
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad())
    return load_error{path, 0, "cannot read the password file"};
  return parse(buf.str(), path);
}

load_result<password_db> password_db::parse(std::string_view text, const std::string& name) {
  password_db db;
  std::optional<load_error> failure;
  std::size_t lineno = 0;
  for_each_line(text, [&](std::string_view raw) {
    ++lineno;
    if (failure)
      return;
    auto line = trim(raw);
    if (line.empty() || line.front() == '#')
      return;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      failure = load_error{name, lineno, "expected 'user:hash'"};
      return;
    }
    auto user = line.substr(0, colon);
    if (user.empty()) {
      failure = load_error{name, lineno, "empty user name"};
      return;
    }
    std::string error;
    auto hash = password_hash::parse(line.substr(colon + 1), error);
    if (!hash) {
      failure = load_error{name, lineno, "user '" + std::string{user} + "': " + error};
      return;
    }
    // A later line for the same user replaces an earlier one.
    db.entries_.insert_or_assign(std::string{user}, std::move(*hash));
  });
  if (failure)
    return *failure;
  return db;
}

bool password_db::verify(std::string_view user, std::string_view password) const {
  auto it = entries_.find(user);
  if (it == entries_.end()) {
    // Spend about the time a real check takes, so timing does not reveal which users exist.
    static const password_hash dummy = [] {
      password_hash h;
      h.kind = password_hash::scheme::pbkdf2_sha512;
      h.iterations = default_pbkdf2_iterations;
      h.salt.assign(salt_len, '\x5a');
      h.hash.assign(hash_len, '\0');
      return h;
    }();
    (void) dummy.matches(password);
    return false;
  }
  return it->second.matches(password);
}

bool password_db::has_user(std::string_view user) const {
  return entries_.find(user) != entries_.end();
}

std::optional<scram_keys> password_db::scram_keys_for(std::string_view user,
                                                      scram_digest d) const {
  auto it = entries_.find(user);
  if (it == entries_.end())
    return std::nullopt;
  return it->second.scram(d);
}

std::vector<std::string> password_db::users() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (auto& [user, _] : entries_)
    out.push_back(user);
  return out;
}

// -- writing ----------------------------------------------------------------------------------

std::string make_entry(std::string_view user, std::string_view password, unsigned iterations) {
  if (iterations == 0)
    iterations = default_pbkdf2_iterations;
  password_hash h;
  h.kind = password_hash::scheme::pbkdf2_sha512;
  h.iterations = iterations;
  h.salt.resize(salt_len);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(h.salt.data()), static_cast<int>(salt_len))
      != 1)
    throw std::runtime_error("RAND_bytes failed");
  unsigned char out[hash_len];
  if (!pbkdf2_sha512(password, h.salt, iterations, out, hash_len))
    throw std::runtime_error("PKCS5_PBKDF2_HMAC failed");
  h.hash.assign(reinterpret_cast<const char*>(out), hash_len);
  OPENSSL_cleanse(out, sizeof out);
  return std::string{user} + ":" + h.encode();
}

std::string make_scram_sha256_entry(std::string_view user, std::string_view password,
                                    unsigned iterations) {
  if (iterations == 0)
    iterations = default_scram_iterations;
  password_hash h;
  h.kind = password_hash::scheme::scram_sha256;
  h.iterations = iterations;
  h.salt.resize(scram_salt_len);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(h.salt.data()),
                 static_cast<int>(scram_salt_len))
      != 1)
    throw std::runtime_error("RAND_bytes failed");
  auto keys = scram_keys_from_password(scram_digest::sha256, password, h.salt, iterations);
  if (!keys)
    throw std::runtime_error("PKCS5_PBKDF2_HMAC failed");
  h.hash = std::move(keys->stored_key);
  h.server_key = std::move(keys->server_key);
  return std::string{user} + ":" + h.encode();
}

bool valid_password_user(std::string_view user) {
  if (user.empty() || trim(user).size() != user.size() || user.front() == '#')
    return false;
  for (char c : user)
    if (c == ':' || static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
      return false;
  return true;
}

std::string upsert_entry(std::string_view file_text, std::string_view user,
                         std::string_view entry) {
  std::string out;
  bool replaced = false;
  for_each_line(file_text, [&](std::string_view line) {
    auto u = line_user(line);
    if (u && *u == user) {
      if (!replaced) {
        out += entry;
        out += '\n';
        replaced = true;
      }
      return; // drop duplicates of the same user
    }
    out += line;
    out += '\n';
  });
  if (!replaced) {
    out += entry;
    out += '\n';
  }
  return out;
}

std::string remove_entry(std::string_view file_text, std::string_view user, bool& found) {
  std::string out;
  found = false;
  for_each_line(file_text, [&](std::string_view line) {
    auto u = line_user(line);
    if (u && *u == user) {
      found = true;
      return;
    }
    out += line;
    out += '\n';
  });
  return out;
}

bool write_file_atomically(const std::string& path, std::string_view content,
                           std::string& error) {
  std::string tmpl = path + ".tmpXXXXXX";
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) {
    error = "cannot create a temporary file next to '" + path + "': " + std::strerror(errno);
    return false;
  }
  auto fail = [&](const char* what) {
    error = std::string{what} + " '" + tmpl + "': " + std::strerror(errno);
    ::close(fd);
    ::unlink(tmpl.c_str());
    return false;
  };
  if (::fchmod(fd, S_IRUSR | S_IWUSR) != 0)
    return fail("cannot set the mode of");
  std::size_t done = 0;
  while (done < content.size()) {
    auto n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return fail("cannot write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0)
    return fail("cannot sync");
  if (::close(fd) != 0) {
    error = "cannot close '" + tmpl + "': " + std::strerror(errno);
    ::unlink(tmpl.c_str());
    return false;
  }
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    error = "cannot rename '" + tmpl + "' to '" + path + "': " + std::strerror(errno);
    ::unlink(tmpl.c_str());
    return false;
  }
  return true;
}

} // namespace colony::config
