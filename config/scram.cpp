#include "config/scram.hpp"

#include "config/text.hpp"

#include "config/password_file.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>
#include <stdexcept>
#include <vector>

namespace colony::config {

namespace {

const EVP_MD* md_of(scram_digest d) {
  return d == scram_digest::sha256 ? EVP_sha256() : EVP_sha512();
}

std::string hmac(scram_digest d, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(md_of(d), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len)
      == nullptr)
    return {};
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string hash(scram_digest d, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, md_of(d), nullptr) != 1)
    return {};
  return std::string(reinterpret_cast<const char*>(out), len);
}

bool equal_ct(std::string_view a, std::string_view b) {
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return out;
}


/// The value of "k=value" if the attribute's name is `k`.
std::optional<std::string_view> attr(std::string_view part, char k) {
  if (part.size() < 2 || part[0] != k || part[1] != '=')
    return std::nullopt;
  return part.substr(2);
}

/// RFC 5802 saslname: '=2C' is ',', '=3D' is '='; any other '=' is an error. SASLprep is
/// simplified: only printable ASCII is accepted.
std::optional<std::string> decode_saslname(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c > 0x7E)
      return std::nullopt;
    if (c == '=') {
      auto esc = s.substr(i, 3);
      if (esc == "=2C")
        out += ',';
      else if (esc == "=3D")
        out += '=';
      else
        return std::nullopt;
      i += 2;
      continue;
    }
    out += static_cast<char>(c);
  }
  if (out.empty())
    return std::nullopt;
  return out;
}

/// RFC 5802 printable: %x21-2B / %x2D-7E.
bool valid_nonce(std::string_view n) {
  if (n.empty())
    return false;
  for (char ch : n) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x21 || c > 0x7E || c == ',')
      return false;
  }
  return true;
}

/// Made-up keys for an unknown user: a salt that is stable per user (so probing twice shows
/// nothing), and keys no proof matches.
scram_keys fake_keys(scram_digest d, std::string_view user) {
  static const std::string secret = random_bytes(32);
  scram_keys k;
  k.digest = d;
  k.iterations = d == scram_digest::sha256 ? default_scram_iterations : default_pbkdf2_iterations;
  k.salt = hmac(d, secret, user).substr(0, d == scram_digest::sha256 ? 16 : 12);
  k.stored_key = random_bytes(scram_digest_size(d));
  k.server_key = random_bytes(scram_digest_size(d));
  return k;
}

} // namespace

std::string_view scram_method_name(scram_digest d) noexcept {
  return d == scram_digest::sha256 ? "SCRAM-SHA-256" : "SCRAM-SHA-512";
}

std::size_t scram_digest_size(scram_digest d) noexcept {
  return d == scram_digest::sha256 ? 32 : 64;
}

scram_keys scram_keys_from_salted(scram_digest d, std::string_view salted_password,
                                  std::string_view salt, unsigned iterations) {
  scram_keys k;
  k.digest = d;
  k.iterations = iterations;
  k.salt = std::string{salt};
  auto client_key = hmac(d, salted_password, "Client Key");
  k.stored_key = hash(d, client_key);
  k.server_key = hmac(d, salted_password, "Server Key");
  OPENSSL_cleanse(client_key.data(), client_key.size());
  return k;
}

std::optional<scram_keys> scram_keys_from_password(scram_digest d, std::string_view password,
                                                   std::string_view salt, unsigned iterations) {
  std::string salted(scram_digest_size(d), '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()),
                        static_cast<int>(salt.size()), static_cast<int>(iterations), md_of(d),
                        static_cast<int>(salted.size()),
                        reinterpret_cast<unsigned char*>(salted.data()))
      != 1)
    return std::nullopt;
  auto keys = scram_keys_from_salted(d, salted, salt, iterations);
  OPENSSL_cleanse(salted.data(), salted.size());
  return keys;
}

// -- scram_server -------------------------------------------------------------------------

scram_server::scram_server(scram_digest digest, lookup_fn lookup, std::string server_nonce)
    : digest_(digest), lookup_(std::move(lookup)), server_nonce_(std::move(server_nonce)) {
  if (server_nonce_.empty())
    server_nonce_ = base64_encode(random_bytes(18));
}

scram_server::result scram_server::fail(std::string why) {
  stage_ = stage::done;
  return result{status::failure, {}, std::move(why)};
}

scram_server::result scram_server::step(std::string_view msg) {
  if (msg.size() > scram_max_message)
    return fail("SCRAM message too long");
  switch (stage_) {
  case stage::client_first:
    return on_client_first(msg);
  case stage::client_final:
    return on_client_final(msg);
  case stage::done:
    break;
  }
  return fail("SCRAM exchange already finished");
}

scram_server::result scram_server::on_client_first(std::string_view msg) {
  // gs2-header: gs2-cbind-flag "," [ authzid ] ","
  auto parts = split(msg, ',');
  if (parts.size() < 4)
    return fail("malformed client-first-message");
  auto flag = parts[0];
  if (flag.starts_with("p="))
    return fail("channel binding is not supported");
  if (flag != "n" && flag != "y")
    return fail("malformed gs2-cbind-flag");
  std::optional<std::string> authzid;
  if (!parts[1].empty()) {
    auto a = attr(parts[1], 'a');
    if (!a || !(authzid = decode_saslname(*a)))
      return fail("malformed authzid");
  }
  gs2_header_ = std::string{flag} + "," + std::string{parts[1]} + ",";
  client_first_bare_ = std::string{msg.substr(gs2_header_.size())};
  std::size_t i = 2;
  if (attr(parts[i], 'm'))
    return fail("unsupported mandatory extension"); // RFC 5802 §5.1 reserved-mext
  auto n = attr(parts[i], 'n');
  if (!n)
    return fail("client-first-message without a user name");
  auto user = decode_saslname(*n);
  if (!user)
    return fail("invalid user name (only printable ASCII, '=2C' and '=3D' escapes)");
  auto r = attr(parts[i + 1], 'r');
  if (!r || !valid_nonce(*r))
    return fail("client-first-message without a valid nonce");
  if (authzid && *authzid != *user)
    return fail("authorization identity differs from the user name");
  user_ = std::move(*user);
  std::optional<scram_keys> keys = lookup_ ? lookup_(user_) : std::nullopt;
  known_user_ = keys.has_value() && keys->digest == digest_
                && keys->stored_key.size() == scram_digest_size(digest_)
                && keys->server_key.size() == scram_digest_size(digest_) && keys->iterations > 0
                && !keys->salt.empty();
  keys_ = known_user_ ? std::move(*keys) : fake_keys(digest_, user_);
  nonce_ = std::string{*r} + server_nonce_;
  server_first_ =
      "r=" + nonce_ + ",s=" + base64_encode(keys_.salt) + ",i=" + std::to_string(keys_.iterations);
  stage_ = stage::client_final;
  return result{status::proceed, server_first_, {}};
}

scram_server::result scram_server::on_client_final(std::string_view msg) {
  // channel-binding "," nonce ["," extensions] "," proof
  auto proof_at = msg.rfind(",p=");
  if (proof_at == std::string_view::npos)
    return fail("client-final-message without a proof");
  auto without_proof = msg.substr(0, proof_at);
  auto parts = split(without_proof, ',');
  if (parts.size() < 2)
    return fail("malformed client-final-message");
  auto c = attr(parts[0], 'c');
  auto cb = c ? base64_decode(*c) : std::nullopt;
  if (!cb)
    return fail("malformed channel-binding attribute");
  if (*cb != gs2_header_)
    return fail("channel-binding data differs from the gs2 header");
  auto r = attr(parts[1], 'r');
  if (!r || *r != nonce_)
    return fail("nonce mismatch");
  auto proof = base64_decode(msg.substr(proof_at + 3));
  if (!proof || proof->size() != scram_digest_size(digest_))
    return fail("malformed proof");
  std::string auth_message =
      client_first_bare_ + "," + server_first_ + "," + std::string{without_proof};
  auto client_signature = hmac(digest_, keys_.stored_key, auth_message);
  if (client_signature.size() != proof->size())
    return fail("HMAC failed");
  std::string client_key(proof->size(), '\0');
  for (std::size_t k = 0; k < client_key.size(); ++k)
    client_key[k] = static_cast<char>((*proof)[k] ^ client_signature[k]);
  bool ok = equal_ct(hash(digest_, client_key), keys_.stored_key) && known_user_;
  OPENSSL_cleanse(client_key.data(), client_key.size());
  if (!ok)
    return fail("invalid proof");
  stage_ = stage::done;
  return result{
      status::success, "v=" + base64_encode(hmac(digest_, keys_.server_key, auth_message)), {}};
}

} // namespace colony::config
