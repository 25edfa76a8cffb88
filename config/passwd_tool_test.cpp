// Unit tests of `colony passwd` (config/passwd_tool.hpp) through run_passwd() with in-memory
// streams and a fake terminal.
#include "config/passwd_tool.hpp"

#include "config/password_file.hpp"
#include "config/test_util.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <sstream>
#include <sys/stat.h>

namespace colony::config {
namespace {

using testing::contains;
using testing::read_file;
using testing::temp_dir;

struct tool_run {
  int rc;
  std::string out;
  std::string err;
  std::vector<std::string> prompts;
};

/// Runs the tool with `stdin_text` as a pipe, or (when `terminal` is set) with a fake
/// terminal answering the password prompts from `terminal`.
tool_run passwd(std::vector<std::string> args, const std::string& stdin_text = "",
                std::optional<std::deque<std::string>> terminal = std::nullopt) {
  std::istringstream in{stdin_text};
  std::ostringstream out;
  std::ostringstream err;
  tool_run r;
  passwd_io io{in, out, err, terminal.has_value(), nullptr};
  if (terminal)
    io.read_secret = [&](const std::string& prompt) -> std::optional<std::string> {
      r.prompts.push_back(prompt);
      if (terminal->empty())
        return std::nullopt;
      auto s = terminal->front();
      terminal->pop_front();
      return s;
    };
  r.rc = run_passwd(args, io);
  r.out = out.str();
  r.err = err.str();
  return r;
}

password_db load(const std::string& path) {
  auto r = password_db::load(path);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().to_string());
  return r ? std::move(r).value() : password_db{};
}

TEST(PasswdTool, BatchCreatesFileWithMode0600) {
  temp_dir dir;
  auto file = dir.file("pw");
  auto r = passwd({"-b", file, "alice", "s3cret"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(load(file).verify("alice", "s3cret"));
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(contains(read_file(file), "s3cret"));
}

TEST(PasswdTool, BatchUpdatesAndAddsKeepingOtherLines) {
  temp_dir dir;
  auto file = dir.write("pw", "# my users\n" + make_entry("alice", "old") + "\n"
                                + make_entry("bob", "b") + "\n");
  ASSERT_EQ(passwd({"-b", file, "alice", "new"}).rc, 0);
  ASSERT_EQ(passwd({"-b", file, "carol", "c"}).rc, 0);
  auto db = load(file);
  EXPECT_TRUE(db.verify("alice", "new"));
  EXPECT_FALSE(db.verify("alice", "old"));
  EXPECT_TRUE(db.verify("bob", "b"));
  EXPECT_TRUE(db.verify("carol", "c"));
  auto text = read_file(file);
  EXPECT_EQ(text.rfind("# my users\nalice:", 0), 0u) << text; // order kept
}

TEST(PasswdTool, PasswordFromStdinWhenNotATerminal) {
  temp_dir dir;
  auto file = dir.file("pw");
  auto r = passwd({file, "dave"}, "from stdin\nignored second line\n");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(load(file).verify("dave", "from stdin"));
  r = passwd({file, "erin"}, "crlf\r\n");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(load(file).verify("erin", "crlf"));
  r = passwd({file, "frank"}, "");
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(contains(r.err, "no password")) << r.err;
}

TEST(PasswdTool, TerminalAsksTwice) {
  temp_dir dir;
  auto file = dir.file("pw");
  auto r = passwd({file, "gina"}, "", std::deque<std::string>{"tty-pass", "tty-pass"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.prompts.size(), 2u);
  EXPECT_TRUE(load(file).verify("gina", "tty-pass"));
  r = passwd({file, "gina"}, "", std::deque<std::string>{"one", "two"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(contains(r.err, "do not match")) << r.err;
  EXPECT_TRUE(load(file).verify("gina", "tty-pass")); // unchanged
}

TEST(PasswdTool, Delete) {
  temp_dir dir;
  auto file = dir.write("pw", make_entry("alice", "a") + "\n" + make_entry("bob", "b") + "\n");
  ASSERT_EQ(passwd({"-D", file, "alice"}).rc, 0);
  auto db = load(file);
  EXPECT_FALSE(db.has_user("alice"));
  EXPECT_TRUE(db.verify("bob", "b"));
  auto r = passwd({"-D", file, "alice"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(contains(r.err, "alice")) << r.err;
  r = passwd({"-D", dir.file("missing"), "x"});
  EXPECT_EQ(r.rc, 1);
}

TEST(PasswdTool, CreateOverwrites) {
  temp_dir dir;
  auto file = dir.write("pw", make_entry("old", "o") + "\n");
  ASSERT_EQ(passwd({"-c", "-b", file, "new", "n"}).rc, 0);
  auto db = load(file);
  EXPECT_FALSE(db.has_user("old"));
  EXPECT_TRUE(db.verify("new", "n"));
}

TEST(PasswdTool, RefusesToEditABrokenFile) {
  temp_dir dir;
  auto file = dir.write("pw", "alice:plaintext\n");
  auto r = passwd({"-b", file, "bob", "b"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(contains(r.err, file + ":1:")) << r.err;
  EXPECT_EQ(read_file(file), "alice:plaintext\n");
}

TEST(PasswdTool, UsageErrors) {
  temp_dir dir;
  auto file = dir.file("pw");
  EXPECT_EQ(passwd({}).rc, 2);
  EXPECT_EQ(passwd({file}).rc, 2);
  EXPECT_EQ(passwd({"-b", file, "u"}).rc, 2);
  EXPECT_EQ(passwd({file, "u", "extra"}, "pw\n").rc, 2);
  EXPECT_EQ(passwd({"-x", file, "u"}).rc, 2);
  EXPECT_EQ(passwd({"-b", file, "a:b", "p"}).rc, 2);
  EXPECT_EQ(passwd({"-D", "-b", file, "u", "p"}).rc, 2);
  EXPECT_EQ(passwd({"-H", "sha512", "-b", file, "u", "p"}).rc, 2);
  EXPECT_EQ(passwd({"-H", "sha512-pbkdf2", "-b", file, "u", "p"}).rc, 0);
  EXPECT_EQ(passwd({"-b", file, "u", ""}).rc, 1); // empty password
  auto help = passwd({"-h"});
  EXPECT_EQ(help.rc, 0);
  EXPECT_TRUE(contains(help.out, "Usage")) << help.out;
}

TEST(PasswdTool, MosquittoReadsWhatWeWrite) {
  if (::access("/usr/bin/mosquitto_passwd", X_OK) != 0)
    GTEST_SKIP() << "mosquitto_passwd not installed";
  temp_dir dir;
  auto file = dir.file("pw");
  ASSERT_EQ(passwd({"-b", file, "alice", "a"}).rc, 0);
  // mosquitto_passwd refuses files it cannot parse; updating another user must work.
  std::string cmd = "/usr/bin/mosquitto_passwd -b '" + file + "' bob b >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto db = load(file);
  EXPECT_TRUE(db.verify("alice", "a"));
  EXPECT_TRUE(db.verify("bob", "b"));
}

// -- $scram-sha-256$ entries -----------------------------------------------------------------

TEST(PasswdTool, ScramSha256FlagWritesScramEntry) {
  temp_dir dir;
  auto file = dir.file("pw");
  ASSERT_EQ(passwd({"-b", file, "alice", "s3cret"}).rc, 0);
  auto r = passwd({"--scram-sha-256", "-b", file, "bob", "hunter2"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto r2 = passwd({"-H", "scram-sha-256", "-b", file, "carol", "pw3"});
  ASSERT_EQ(r2.rc, 0) << r2.err;
  auto text = read_file(file);
  EXPECT_TRUE(contains(text, "alice:$7$101$")) << text; // the default stays mosquitto's
  EXPECT_TRUE(contains(text, "bob:$scram-sha-256$4096$")) << text;
  EXPECT_TRUE(contains(text, "carol:$scram-sha-256$4096$")) << text;
  EXPECT_FALSE(contains(text, "hunter2"));
  auto db = load(file);
  EXPECT_TRUE(db.verify("alice", "s3cret"));
  EXPECT_TRUE(db.verify("bob", "hunter2"));
  EXPECT_FALSE(db.verify("bob", "hunter3"));
  EXPECT_TRUE(db.scram_keys_for("bob", scram_digest::sha256).has_value());
  EXPECT_TRUE(db.scram_keys_for("alice", scram_digest::sha512).has_value());
}

TEST(PasswdTool, ScramSha256FlagIsNotForDelete) {
  temp_dir dir;
  auto file = dir.file("pw");
  ASSERT_EQ(passwd({"-b", file, "alice", "s3cret"}).rc, 0);
  EXPECT_EQ(passwd({"--scram-sha-256", "-D", file, "alice"}).rc, 2);
  EXPECT_EQ(passwd({"-H", "md5", "-b", file, "alice", "x"}).rc, 2);
}

} // namespace
} // namespace colony::config
