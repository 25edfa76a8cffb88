// Unit tests of config/scram.hpp: RFC 7677's SCRAM-SHA-256 example exchange (server nonce and
// salt injected), SCRAM-SHA-512 over a mosquitto `$7$` entry, `$scram-sha-256$` entries, and
// refusals: wrong password, unknown user, tampered nonce, malformed and replayed messages.
// MQTT 5 §4.12 leaves the method to the server; SCRAM itself is RFC 5802.
#include "config/scram.hpp"

#include "config/password_file.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace colony::config {
namespace {

using status = scram_server::status;

// RFC 7677 §3.
constexpr const char* rfc_client_first = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr const char* rfc_server_nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr const char* rfc_server_first =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr const char* rfc_client_final =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr const char* rfc_server_final = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

// mosquitto_passwd -c -b pw alice 's3cret!' (mosquitto 2.0, as in password_file_test.cpp).
constexpr const char* alice_line =
    "alice:$7$101$GqACOFlQTehkB2A+$ekjcCrGryhwsIXtOJuFq+Pz91Rn+n0NzPH3O7hkHtU83iqw11y632t9qwwJp"
    "qry19sqd4yoMdUAL6UzEsTpENw==";

scram_keys rfc_keys() {
  auto salt = base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==");
  auto keys = scram_keys_from_password(scram_digest::sha256, "pencil", *salt, 4096);
  EXPECT_TRUE(keys.has_value());
  return *keys;
}

/// rfc_keys() once (PBKDF2 with 4096 iterations is not free).
const scram_keys& rfc_keys_cached() {
  static const scram_keys keys = rfc_keys();
  return keys;
}

scram_server::lookup_fn only(std::string user, scram_keys keys) {
  return [user, keys](std::string_view u) -> std::optional<scram_keys> {
    if (u == user)
      return keys;
    return std::nullopt;
  };
}

scram_server::lookup_fn from_db(const password_db& db, scram_digest d) {
  return [&db, d](std::string_view u) { return db.scram_keys_for(u, d); };
}

password_db db_of(const std::string& text) {
  auto r = password_db::parse(text, "test.pw");
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().to_string());
  return r ? std::move(r).value() : password_db{};
}

/// A SCRAM client written from RFC 5802 §3, independent of scram_server's code paths.
struct test_client {
  test_client(scram_digest digest, std::string u, std::string pw)
      : d(digest), user(std::move(u)), password(std::move(pw)) {}

  scram_digest d;
  std::string user;
  std::string password;
  std::string nonce = "fyko+d2lbbFgONRv9qkxdawL";
  std::string client_first_bare;
  std::string server_signature;

  const EVP_MD* md() const { return d == scram_digest::sha256 ? EVP_sha256() : EVP_sha512(); }
  std::string mac(std::string_view key, std::string_view data) const {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    HMAC(md(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
    return std::string(reinterpret_cast<char*>(out), len);
  }
  std::string first() {
    client_first_bare = "n=" + user + ",r=" + nonce;
    return "n,," + client_first_bare;
  }
  /// client-final for `server_first` (nonce as given by the server unless overridden).
  std::string final_for(const std::string& server_first, std::string nonce_override = {}) {
    auto r = server_first.substr(2, server_first.find(',') - 2);
    auto s_at = server_first.find(",s=") + 3;
    auto i_at = server_first.find(",i=");
    auto salt = *base64_decode(server_first.substr(s_at, i_at - s_at));
    int iterations = std::stoi(server_first.substr(i_at + 3));
    std::string salted(scram_digest_size(d), '\0');
    PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                      reinterpret_cast<const unsigned char*>(salt.data()),
                      static_cast<int>(salt.size()), iterations, md(),
                      static_cast<int>(salted.size()),
                      reinterpret_cast<unsigned char*>(salted.data()));
    auto client_key = mac(salted, "Client Key");
    unsigned char stored[EVP_MAX_MD_SIZE];
    unsigned stored_len = 0;
    EVP_Digest(client_key.data(), client_key.size(), stored, &stored_len, md(), nullptr);
    std::string without_proof = "c=biws,r=" + (nonce_override.empty() ? r : nonce_override);
    auto auth_message = client_first_bare + "," + server_first + "," + without_proof;
    auto signature =
        mac(std::string_view(reinterpret_cast<char*>(stored), stored_len), auth_message);
    std::string proof(client_key.size(), '\0');
    for (std::size_t k = 0; k < proof.size(); ++k)
      proof[k] = static_cast<char>(client_key[k] ^ signature[k]);
    server_signature = mac(mac(salted, "Server Key"), auth_message);
    return without_proof + ",p=" + base64_encode(proof);
  }
};

// -- RFC 7677 example ----------------------------------------------------------------------

TEST(Scram, Rfc7677ExampleExchange) {
  scram_server server{scram_digest::sha256, only("user", rfc_keys()), rfc_server_nonce};
  auto first = server.step(rfc_client_first);
  ASSERT_EQ(first.what, status::proceed) << first.error;
  EXPECT_EQ(first.data, rfc_server_first);
  auto last = server.step(rfc_client_final);
  ASSERT_EQ(last.what, status::success) << last.error;
  EXPECT_EQ(last.data, rfc_server_final);
  EXPECT_EQ(server.user(), "user");
}

TEST(Scram, Rfc7677WrongPasswordFailsAtProof) {
  auto salt = base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==");
  auto keys = scram_keys_from_password(scram_digest::sha256, "pencil!", *salt, 4096);
  scram_server server{scram_digest::sha256, only("user", *keys), rfc_server_nonce};
  ASSERT_EQ(server.step(rfc_client_first).what, status::proceed);
  auto last = server.step(rfc_client_final);
  EXPECT_EQ(last.what, status::failure);
  EXPECT_TRUE(last.data.empty()); // no server signature for a failed proof
}

TEST(Scram, TamperedNonceIsRefused) {
  scram_server server{scram_digest::sha256, only("user", rfc_keys()), rfc_server_nonce};
  ASSERT_EQ(server.step(rfc_client_first).what, status::proceed);
  std::string tampered = rfc_client_final;
  tampered.replace(tampered.find("%hv"), 3, "%hw");
  EXPECT_EQ(server.step(tampered).what, status::failure);
}

TEST(Scram, TamperedProofIsRefused) {
  scram_server server{scram_digest::sha256, only("user", rfc_keys()), rfc_server_nonce};
  ASSERT_EQ(server.step(rfc_client_first).what, status::proceed);
  std::string tampered = rfc_client_final;
  tampered[tampered.size() - 3] = tampered[tampered.size() - 3] == 'A' ? 'B' : 'A';
  EXPECT_EQ(server.step(tampered).what, status::failure);
}

TEST(Scram, ReplayedOrExtraMessagesFail) {
  scram_server server{scram_digest::sha256, only("user", rfc_keys()), rfc_server_nonce};
  ASSERT_EQ(server.step(rfc_client_first).what, status::proceed);
  ASSERT_EQ(server.step(rfc_client_final).what, status::success);
  // The exchange is over: replaying client-final (or anything) does not succeed again.
  EXPECT_EQ(server.step(rfc_client_final).what, status::failure);

  // A recorded client-final replayed against a fresh server nonce fails (nonce mismatch).
  scram_server other{scram_digest::sha256, only("user", rfc_keys())};
  ASSERT_EQ(other.step(rfc_client_first).what, status::proceed);
  EXPECT_EQ(other.step(rfc_client_final).what, status::failure);

  // client-first sent twice: the second is not a client-final.
  scram_server twice{scram_digest::sha256, only("user", rfc_keys()), rfc_server_nonce};
  ASSERT_EQ(twice.step(rfc_client_first).what, status::proceed);
  EXPECT_EQ(twice.step(rfc_client_first).what, status::failure);
}

TEST(Scram, RandomServerNonceIsFresh) {
  scram_server a{scram_digest::sha256, only("user", rfc_keys())};
  scram_server b{scram_digest::sha256, only("user", rfc_keys())};
  auto fa = a.step(rfc_client_first);
  auto fb = b.step(rfc_client_first);
  ASSERT_EQ(fa.what, status::proceed);
  EXPECT_NE(fa.data, fb.data);
  EXPECT_TRUE(fa.data.starts_with("r=rOprNGfwEbeRWgbNEkqO"));
  EXPECT_GT(fa.data.find(",s="), std::string("r=rOprNGfwEbeRWgbNEkqO").size() + 16);
}

// -- malformed input -----------------------------------------------------------------------

TEST(Scram, MalformedClientFirstIsRefused) {
  const char* bad[] = {
      "",
      "n,,",
      "n,,n=user",                  // no nonce
      "n,,r=abc",                   // no user
      "n,,n=,r=abc",                // empty user
      "n,,n=user,r=",               // empty nonce
      "n,,n=us=er,r=abc",           // '=' not escaped
      "n,,n=us=2Xer,r=abc",         // unknown escape
      "n,,n=us\xc3\xa9r,r=abc",     // non-ASCII (SASLprep simplified)
      "n,,m=ext,n=user,r=abc",      // mandatory extension
      "x,,n=user,r=abc",            // bad gs2 flag
      "p=tls-unique,,n=user,r=abc", // channel binding is not offered
      "n,a=other,n=user,r=abc",     // authzid differs
      "n,,n=user,r=ab c",           // nonce not printable
  };
  for (const char* m : bad) {
    scram_server server{scram_digest::sha256, only("user", rfc_keys())};
    EXPECT_EQ(server.step(m).what, status::failure) << m;
  }
}

TEST(Scram, MalformedClientFinalIsRefused) {
  const std::string nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
  const std::string proof = "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
  const std::string bad[] = {
      "",
      "c=biws,r=" + nonce,                     // no proof
      "r=" + nonce + "," + proof,              // no channel binding
      "c=biws," + proof,                       // no nonce
      "c=b!ws,r=" + nonce + "," + proof,       // bad base64
      "c=eSws,r=" + nonce + "," + proof,       // "y,," does not match "n,,"
      "c=biws,r=" + nonce + ",p=dHzbZapW!k4j", // proof not base64
      "c=biws,r=" + nonce + ",p=AAAA",         // proof of the wrong length
  };
  for (const auto& m : bad) {
    scram_server server{scram_digest::sha256, only("user", rfc_keys()), rfc_server_nonce};
    ASSERT_EQ(server.step(rfc_client_first).what, status::proceed);
    EXPECT_EQ(server.step(m).what, status::failure) << m;
  }
}

TEST(Scram, OversizedMessagesAreRefused) {
  scram_server server{scram_digest::sha256, only("user", rfc_keys())};
  std::string huge = "n,,n=user,r=" + std::string(scram_max_message, 'x');
  EXPECT_EQ(server.step(huge).what, status::failure);
}

TEST(Scram, EscapedUserNamesAreDecoded) {
  auto keys = rfc_keys();
  scram_server server{scram_digest::sha256, only("a,b=c", keys)};
  test_client client{scram_digest::sha256, "a=2Cb=3Dc", "pencil"};
  auto first = server.step(client.first());
  ASSERT_EQ(first.what, status::proceed) << first.error;
  auto last = server.step(client.final_for(first.data));
  ASSERT_EQ(last.what, status::success) << last.error;
  EXPECT_EQ(server.user(), "a,b=c");
}

TEST(Scram, UnknownUserGetsAStableSaltAndFails) {
  scram_server a{scram_digest::sha256, only("user", rfc_keys()), "N1"};
  scram_server b{scram_digest::sha256, only("user", rfc_keys()), "N1"};
  test_client client{scram_digest::sha256, "nobody", "pencil"};
  auto fa = a.step(client.first());
  auto fb = b.step(client.first());
  // RFC 5802 §5.1: an unknown user is not revealed at the first step.
  ASSERT_EQ(fa.what, status::proceed);
  EXPECT_EQ(fa.data, fb.data);
  EXPECT_EQ(a.step(client.final_for(fa.data)).what, status::failure);
}

// -- over the password file ----------------------------------------------------------------

TEST(Scram, Sha512WorksWithAMosquittoEntry) {
  auto db = db_of(std::string{alice_line} + "\n");
  scram_server server{scram_digest::sha512, from_db(db, scram_digest::sha512)};
  test_client client{scram_digest::sha512, "alice", "s3cret!"};
  auto first = server.step(client.first());
  ASSERT_EQ(first.what, status::proceed) << first.error;
  EXPECT_NE(first.data.find(",s=GqACOFlQTehkB2A+,i=101"), std::string::npos) << first.data;
  auto last = server.step(client.final_for(first.data));
  ASSERT_EQ(last.what, status::success) << last.error;
  EXPECT_EQ(last.data, "v=" + base64_encode(client.server_signature));
  EXPECT_EQ(server.user(), "alice");
}

TEST(Scram, Sha512WrongPasswordFails) {
  auto db = db_of(std::string{alice_line} + "\n");
  scram_server server{scram_digest::sha512, from_db(db, scram_digest::sha512)};
  test_client client{scram_digest::sha512, "alice", "s3cret?"};
  auto first = server.step(client.first());
  ASSERT_EQ(first.what, status::proceed);
  EXPECT_EQ(server.step(client.final_for(first.data)).what, status::failure);
}

TEST(Scram, Sha256EntryServesScramAndPlainPasswords) {
  auto line = make_scram_sha256_entry("bob", "hunter2");
  EXPECT_TRUE(line.starts_with("bob:$scram-sha-256$4096$")) << line;
  auto db = db_of(line + "\n" + alice_line + "\n");
  // Plain CONNECT passwords still work against the SCRAM entry.
  EXPECT_TRUE(db.verify("bob", "hunter2"));
  EXPECT_FALSE(db.verify("bob", "hunter3"));
  EXPECT_FALSE(db.verify("bob", ""));

  scram_server server{scram_digest::sha256, from_db(db, scram_digest::sha256)};
  test_client client{scram_digest::sha256, "bob", "hunter2"};
  auto first = server.step(client.first());
  ASSERT_EQ(first.what, status::proceed);
  auto last = server.step(client.final_for(first.data));
  ASSERT_EQ(last.what, status::success) << last.error;
  EXPECT_EQ(last.data, "v=" + base64_encode(client.server_signature));

  // A nonce changed in client-final (even with a proof over it) is refused.
  scram_server again{scram_digest::sha256, from_db(db, scram_digest::sha256)};
  test_client c2{scram_digest::sha256, "bob", "hunter2"};
  auto f2 = again.step(c2.first());
  ASSERT_EQ(f2.what, status::proceed);
  EXPECT_EQ(again.step(c2.final_for(f2.data, c2.nonce + "forged")).what, status::failure);
}

TEST(Scram, EntryKindsServeOnlyTheirDigest) {
  auto db = db_of(make_scram_sha256_entry("bob", "hunter2") + "\n" + alice_line + "\n");
  EXPECT_TRUE(db.scram_keys_for("alice", scram_digest::sha512).has_value());
  EXPECT_FALSE(db.scram_keys_for("alice", scram_digest::sha256).has_value());
  EXPECT_TRUE(db.scram_keys_for("bob", scram_digest::sha256).has_value());
  EXPECT_FALSE(db.scram_keys_for("bob", scram_digest::sha512).has_value());
  EXPECT_FALSE(db.scram_keys_for("carol", scram_digest::sha256).has_value());

  // SCRAM-SHA-256 for a user who only has a $7$ entry fails (at the proof).
  scram_server server{scram_digest::sha256, from_db(db, scram_digest::sha256)};
  test_client client{scram_digest::sha256, "alice", "s3cret!"};
  auto first = server.step(client.first());
  ASSERT_EQ(first.what, status::proceed);
  EXPECT_EQ(server.step(client.final_for(first.data)).what, status::failure);
}

TEST(Scram, Sha256EntryRoundTripsAndRejectsBrokenFields) {
  auto line = make_scram_sha256_entry("bob", "hunter2", 5000);
  auto hash_text = line.substr(line.find(':') + 1);
  std::string error;
  auto h = password_hash::parse(hash_text, error);
  ASSERT_TRUE(h.has_value()) << error;
  EXPECT_EQ(h->kind, password_hash::scheme::scram_sha256);
  EXPECT_EQ(h->iterations, 5000u);
  EXPECT_EQ(h->encode(), hash_text);
  EXPECT_TRUE(h->matches("hunter2"));

  for (const char* broken : {
           "$scram-sha-256$4096$c2FsdA==$AAAA",     // missing ServerKey
           "$scram-sha-256$0$c2FsdA==$AAAA$AAAA",   // zero iterations
           "$scram-sha-256$4096$!!$AAAA$AAAA",      // bad salt
           "$scram-sha-256$4096$c2FsdA==$AAAA$AAAA" // short keys
       }) {
    std::string err;
    EXPECT_FALSE(password_hash::parse(broken, err).has_value()) << broken;
    EXPECT_FALSE(err.empty());
  }
}

// Untrusted input never crashes the server and never succeeds: seeded pseudo-random messages
// built from SCRAM's own alphabet (attribute names, '=', ',', base64), a bounded number of them.
TEST(Scram, GarbageNeverSucceeds) {
  std::uint32_t seed = 12345;
  auto next = [&seed] {
    seed = seed * 1664525u + 1013904223u;
    return seed >> 8;
  };
  const std::string alphabet = "nyprcvsiame=,2CD3/+AZaz09_-\x01\xff";
  for (int round = 0; round < 2000; ++round) {
    scram_server server{scram_digest::sha256, only("user", rfc_keys_cached()), "N"};
    for (int msg = 0; msg < 2; ++msg) {
      std::string text;
      if (round % 3 == 0)
        text = msg == 0 ? "n,,n=user,r=" : "c=biws,r=";
      auto len = next() % 64;
      for (std::uint32_t k = 0; k < len; ++k)
        text += alphabet[next() % alphabet.size()];
      auto r = server.step(text);
      ASSERT_NE(r.what, status::success) << text;
      if (r.what == status::failure)
        break;
    }
  }
}

} // namespace
} // namespace colony::config
