// Unit tests of config/password_file.hpp: both mosquitto_passwd hash formats (hard-coded lines
// produced once by Debian's mosquitto_passwd, and files made by it at test time), parsing
// errors with line numbers, entries Colony writes, and the editing helpers.
#include "config/password_file.hpp"

#include "config/test_util.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <sys/stat.h>
#include <sys/wait.h>

namespace colony::config {
namespace {

using testing::contains;
using testing::read_file;
using testing::temp_dir;

// Made with mosquitto 2.0 (Debian 12):
//   mosquitto_passwd -c -b pw alice 's3cret!'
//   mosquitto_passwd -H sha512 -b pw bob 'hunter2'
//   mosquitto_passwd -b pw carol 'pässwörd with spaces'
constexpr const char* alice_line =
  "alice:$7$101$GqACOFlQTehkB2A+$ekjcCrGryhwsIXtOJuFq+Pz91Rn+n0NzPH3O7hkHtU83iqw11y632t9qwwJp"
  "qry19sqd4yoMdUAL6UzEsTpENw==";
constexpr const char* bob_line =
  "bob:$6$y2GlXyAr4SUWQXCL$b9HIN+UP5TQIDWTwP1yQFzrkimpJFI6UXu6842JCWEnNzIFKK/D6ZoL8wT+t63lGsgU"
  "8GztUSuqPXLN8NyRT7A==";
constexpr const char* carol_line =
  "carol:$7$101$rBDEUHk5c2spa+D0$sQd7egMCPDc/SyiiO1J3FD+jD4UZBNYsx6VkdsPujBxj9KacdGSbTlcrX0VP"
  "Lq9PisEvSvxtVPZwhhcq8HbW9A==";

password_db parse_ok(const std::string& text) {
  auto r = password_db::parse(text, "test.pw");
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().to_string());
  return r ? std::move(r).value() : password_db{};
}

load_error parse_error(const std::string& text) {
  auto r = password_db::parse(text, "test.pw");
  EXPECT_FALSE(r.has_value());
  return r ? load_error{} : r.error();
}

TEST(PasswordFile, Pbkdf2LineFromMosquittoPasswd) {
  auto db = parse_ok(alice_line);
  EXPECT_TRUE(db.verify("alice", "s3cret!"));
  EXPECT_FALSE(db.verify("alice", "s3cret"));
  EXPECT_FALSE(db.verify("alice", "s3cret!!"));
  EXPECT_FALSE(db.verify("alice", ""));
  EXPECT_FALSE(db.verify("Alice", "s3cret!"));
}

TEST(PasswordFile, Sha512LineFromMosquittoPasswd) {
  auto db = parse_ok(bob_line);
  EXPECT_TRUE(db.verify("bob", "hunter2"));
  EXPECT_FALSE(db.verify("bob", "hunter3"));
  EXPECT_FALSE(db.verify("bob", "hunter2\n"));
}

TEST(PasswordFile, Utf8PasswordWithSpaces) {
  auto db = parse_ok(carol_line);
  EXPECT_TRUE(db.verify("carol", "pässwörd with spaces"));
  EXPECT_FALSE(db.verify("carol", "passwort with spaces"));
}

TEST(PasswordFile, MixedFileWithCommentsBlankLinesAndCrlf) {
  std::string text = std::string{"# users\n\n"} + alice_line + "\r\n   \n# bob below\n" + bob_line
                     + "\n" + carol_line; // no final newline
  auto db = parse_ok(text);
  EXPECT_EQ(db.size(), 3u);
  EXPECT_TRUE(db.has_user("alice"));
  EXPECT_TRUE(db.has_user("bob"));
  EXPECT_TRUE(db.has_user("carol"));
  EXPECT_FALSE(db.has_user("dave"));
  EXPECT_TRUE(db.verify("alice", "s3cret!"));
  EXPECT_TRUE(db.verify("bob", "hunter2"));
  EXPECT_TRUE(db.verify("carol", "pässwörd with spaces"));
  EXPECT_EQ(db.users(), (std::vector<std::string>{"alice", "bob", "carol"}));
}

TEST(PasswordFile, UnknownUserIsRefused) {
  auto db = parse_ok(alice_line);
  EXPECT_FALSE(db.verify("mallory", "s3cret!"));
  EXPECT_FALSE(db.verify("", ""));
}

TEST(PasswordFile, EmptyFileIsValidAndRefusesEveryone) {
  auto db = parse_ok("");
  EXPECT_TRUE(db.empty());
  EXPECT_FALSE(db.verify("alice", "s3cret!"));
  db = parse_ok("# only a comment\n\n");
  EXPECT_TRUE(db.empty());
}

TEST(PasswordFile, BinaryPasswordBytes) {
  std::string pw{"a\0b\xff", 4};
  auto line = make_entry("bin", pw);
  auto db = parse_ok(line);
  EXPECT_TRUE(db.verify("bin", pw));
  EXPECT_FALSE(db.verify("bin", "a"));
}

TEST(PasswordFile, LaterLineForSameUserWins) {
  auto first = make_entry("u", "one");
  auto second = make_entry("u", "two");
  auto db = parse_ok(first + "\n" + second + "\n");
  EXPECT_EQ(db.size(), 1u);
  EXPECT_TRUE(db.verify("u", "two"));
  EXPECT_FALSE(db.verify("u", "one"));
}

TEST(PasswordFile, ErrorsNameFileAndLine) {
  auto e = parse_error(std::string{alice_line} + "\n\nnocolon\n");
  EXPECT_EQ(e.file, "test.pw");
  EXPECT_EQ(e.line, 3u);
  EXPECT_TRUE(contains(e.to_string(), "test.pw:3:")) << e.to_string();

  e = parse_error("plain:secret\n");
  EXPECT_EQ(e.line, 1u);
  EXPECT_TRUE(contains(e.message, "plain")) << e.message;
  EXPECT_FALSE(contains(e.message, "secret")) << "must not echo the password: " << e.message;

  e = parse_error(":$6$y2GlXyAr4SUWQXCL$abc=\n");
  EXPECT_TRUE(contains(e.message, "empty user")) << e.message;
}

TEST(PasswordFile, MalformedHashesAreErrors) {
  const char* bad[] = {
    "u:$7$$GqACOFlQTehkB2A+$ekjc",                       // no iteration count
    "u:$7$abc$GqACOFlQTehkB2A+$ekjcCrGr",                // non-numeric iterations
    "u:$7$0$GqACOFlQTehkB2A+$ekjcCrGr",                  // zero iterations
    "u:$7$101$GqACOFlQTehkB2A+",                         // no hash
    "u:$7$101$!!!!$ekjcCrGr",                            // salt not base64
    "u:$7$101$GqACOFlQTehkB2A+$ekj",                     // hash not base64 (length)
    "u:$6$y2GlXyAr4SUWQXCL$AAAA",                        // sha512 digest too short
    "u:$6$y2GlXyAr4SUWQXCL",                             // no hash
    "u:$5$abc$def",                                      // unknown scheme
    "u:",                                                // empty hash
  };
  for (auto* line : bad) {
    auto r = password_db::parse(line, "f");
    EXPECT_FALSE(r.has_value()) << line;
    if (!r) {
      EXPECT_EQ(r.error().line, 1u) << line;
    }
  }
}

TEST(PasswordFile, MissingFileIsAnError) {
  auto r = password_db::load("/nonexistent/colony/passwords");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().line, 0u);
  EXPECT_TRUE(contains(r.error().to_string(), "/nonexistent/colony/passwords")) << r.error().to_string();
}

TEST(PasswordFile, MakeEntryIsMosquittoFormat) {
  auto line = make_entry("dave", "correct horse");
  ASSERT_EQ(line.rfind("dave:$7$101$", 0), 0u) << line;
  std::string error;
  auto h = password_hash::parse(line.substr(5), error);
  ASSERT_TRUE(h) << error;
  EXPECT_EQ(h->kind, password_hash::scheme::pbkdf2_sha512);
  EXPECT_EQ(h->iterations, 101u);
  EXPECT_EQ(h->salt.size(), 12u);
  EXPECT_EQ(h->hash.size(), 64u);
  EXPECT_EQ(h->encode(), line.substr(5));
  EXPECT_TRUE(h->matches("correct horse"));
  // Random salt: two entries for the same password differ.
  EXPECT_NE(make_entry("dave", "correct horse"), line);
  // Other iteration counts verify too.
  auto db = parse_ok(make_entry("erin", "pw", 1000));
  EXPECT_TRUE(db.verify("erin", "pw"));
}

TEST(PasswordFile, Base64RoundTrip) {
  for (std::string s : {std::string{}, std::string{"f"}, std::string{"fo"}, std::string{"foo"},
                        std::string{"foob"}, std::string{"fooba"}, std::string{"foobar"}}) {
    auto enc = base64_encode(s);
    auto dec = base64_decode(enc);
    ASSERT_TRUE(dec) << enc;
    EXPECT_EQ(*dec, s);
  }
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_FALSE(base64_decode("Zm9"));
  EXPECT_FALSE(base64_decode("Zm=v"));
  EXPECT_FALSE(base64_decode("Zm9v!A=="));
}

// -- files written by the real mosquitto_passwd at test time -----------------------------------

bool have_mosquitto_passwd() {
  return ::access("/usr/bin/mosquitto_passwd", X_OK) == 0;
}

int run_shell(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST(PasswordFile, FileMadeByMosquittoPasswdNow) {
  if (!have_mosquitto_passwd())
    GTEST_SKIP() << "mosquitto_passwd not installed (apt-get install mosquitto)";
  temp_dir dir;
  auto file = dir.file("pw");
  ASSERT_EQ(run_shell("/usr/bin/mosquitto_passwd -c -b '" + file + "' u1 'first pass' 2>&1"), 0);
  ASSERT_EQ(run_shell("/usr/bin/mosquitto_passwd -b '" + file + "' u2 'x:y$z' 2>&1"), 0);
  ASSERT_EQ(run_shell("/usr/bin/mosquitto_passwd -H sha512 -b '" + file + "' u3 p3 2>&1"), 0);
  ASSERT_EQ(run_shell("/usr/bin/mosquitto_passwd -H sha512-pbkdf2 -b '" + file
                      + "' u4 'ünïcødé' 2>&1"),
            0);
  auto loaded = password_db::load(file);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().to_string();
  auto& db = loaded.value();
  EXPECT_EQ(db.size(), 4u);
  EXPECT_TRUE(db.verify("u1", "first pass"));
  EXPECT_TRUE(db.verify("u2", "x:y$z"));
  EXPECT_TRUE(db.verify("u3", "p3"));
  EXPECT_TRUE(db.verify("u4", "ünïcødé"));
  EXPECT_FALSE(db.verify("u1", "first  pass"));
  EXPECT_FALSE(db.verify("u3", "p4"));
  // mosquitto_passwd -D removes the user; a reload sees that.
  ASSERT_EQ(run_shell("/usr/bin/mosquitto_passwd -D '" + file + "' u2 2>&1"), 0);
  auto again = password_db::load(file);
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(again->has_user("u2"));
  EXPECT_TRUE(again->verify("u1", "first pass"));
}

TEST(PasswordFile, MosquittoAcceptsEntriesColonyWrites) {
  // mosquitto_passwd -U rehashes plain lines and keeps hashed ones; a file it can process
  // without complaint (and leaves unchanged) proves our entries are in its format.
  if (!have_mosquitto_passwd())
    GTEST_SKIP() << "mosquitto_passwd not installed (apt-get install mosquitto)";
  temp_dir dir;
  std::string content = make_entry("zed", "zzz") + "\n";
  auto file = dir.write("pw", content);
  ::chmod(file.c_str(), 0600);
  ASSERT_EQ(run_shell("/usr/bin/mosquitto_passwd -b '" + file + "' other pw 2>&1"), 0);
  auto text = read_file(file);
  EXPECT_TRUE(contains(text, content)) << text; // our line survives untouched
  auto db = password_db::load(file);
  ASSERT_TRUE(db.has_value());
  EXPECT_TRUE(db->verify("zed", "zzz"));
  EXPECT_TRUE(db->verify("other", "pw"));
}

// -- editing ------------------------------------------------------------------------------------

TEST(PasswordFile, UpsertReplacesInPlaceAndKeepsComments) {
  std::string text = "# header\nalice:$6$old$x\n\nbob:$6$b$y\n";
  auto out = upsert_entry(text, "alice", "alice:NEW");
  EXPECT_EQ(out, "# header\nalice:NEW\n\nbob:$6$b$y\n");
  out = upsert_entry(text, "carol", "carol:C");
  EXPECT_EQ(out, text + "carol:C\n");
  out = upsert_entry("", "x", "x:1");
  EXPECT_EQ(out, "x:1\n");
  // A prefix of another user's name is not that user.
  out = upsert_entry("alice2:z\n", "alice", "alice:a");
  EXPECT_EQ(out, "alice2:z\nalice:a\n");
  // A file without a final newline.
  out = upsert_entry("a:1", "b", "b:2");
  EXPECT_EQ(out, "a:1\nb:2\n");
}

TEST(PasswordFile, RemoveEntry) {
  bool found = false;
  auto out = remove_entry("# c\nalice:1\nbob:2\n", "alice", found);
  EXPECT_TRUE(found);
  EXPECT_EQ(out, "# c\nbob:2\n");
  out = remove_entry("bob:2\n", "alice", found);
  EXPECT_FALSE(found);
  EXPECT_EQ(out, "bob:2\n");
}

TEST(PasswordFile, ValidUserNames) {
  EXPECT_TRUE(valid_password_user("alice"));
  EXPECT_TRUE(valid_password_user("user@example.com"));
  EXPECT_TRUE(valid_password_user("ünï"));
  EXPECT_FALSE(valid_password_user(""));
  EXPECT_FALSE(valid_password_user("a:b"));
  EXPECT_FALSE(valid_password_user("a\nb"));
  EXPECT_FALSE(valid_password_user(" lead"));
  EXPECT_FALSE(valid_password_user("#comment"));
}

TEST(PasswordFile, AtomicWriteHasMode0600) {
  temp_dir dir;
  auto file = dir.write("pw", "old\n");
  ::chmod(file.c_str(), 0644);
  std::string error;
  ASSERT_TRUE(write_file_atomically(file, "new\n", error)) << error;
  EXPECT_EQ(read_file(file), "new\n");
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // No temporary files are left behind.
  std::size_t entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir.path()))
    ++entries;
  EXPECT_EQ(entries, 1u);
  EXPECT_FALSE(write_file_atomically("/nonexistent/dir/pw", "x", error));
  EXPECT_FALSE(error.empty());
}

} // namespace
} // namespace colony::config
