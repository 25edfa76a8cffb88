// Unit tests of config/auth_store.hpp: initial load, reload replacing both files, and a broken
// edit keeping the previous (working) snapshots.
#include "config/auth_store.hpp"

#include "config/test_util.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace colony::config {
namespace {

using testing::contains;
using testing::temp_dir;

TEST(AuthStore, NothingConfigured) {
  auth_store store{"", ""};
  EXPECT_TRUE(store.reload().empty());
  EXPECT_EQ(store.passwords(), nullptr);
  EXPECT_EQ(store.acl_rules(), nullptr);
  EXPECT_EQ(store.generation(), 1u);
}

TEST(AuthStore, LoadsBothFiles) {
  temp_dir dir;
  auto pw = dir.write("pw", make_entry("alice", "one") + "\n");
  auto acl_path = dir.write("acl", "allow username alice 3 a/#\n");
  auth_store store{pw, acl_path};
  EXPECT_EQ(store.passwords(), nullptr); // nothing before the first reload
  EXPECT_EQ(store.generation(), 0u);
  ASSERT_TRUE(store.reload().empty());
  ASSERT_NE(store.passwords(), nullptr);
  ASSERT_NE(store.acl_rules(), nullptr);
  EXPECT_TRUE(store.passwords()->verify("alice", "one"));
  EXPECT_TRUE(store.acl_rules()->allowed(acl::access::publish, "c", "alice", "", "a/b"));
  EXPECT_EQ(store.password_file(), pw);
  EXPECT_EQ(store.acl_file(), acl_path);
}

TEST(AuthStore, ReloadReplacesAndOldSnapshotsStayValid) {
  temp_dir dir;
  auto pw = dir.write("pw", make_entry("alice", "one") + "\n");
  auto acl_path = dir.write("acl", "allow username alice 3 a/#\n");
  auth_store store{pw, acl_path};
  ASSERT_TRUE(store.reload().empty());
  auto old_pw = store.passwords();
  auto old_acl = store.acl_rules();

  dir.write("pw", make_entry("alice", "two") + "\n" + make_entry("bob", "b") + "\n");
  dir.write("acl", "allow username alice 3 b/#\n");
  ASSERT_TRUE(store.reload().empty());
  EXPECT_EQ(store.generation(), 2u);
  EXPECT_TRUE(store.passwords()->verify("alice", "two"));
  EXPECT_FALSE(store.passwords()->verify("alice", "one"));
  EXPECT_TRUE(store.passwords()->verify("bob", "b"));
  EXPECT_FALSE(store.acl_rules()->allowed(acl::access::publish, "c", "alice", "", "a/b"));
  EXPECT_TRUE(store.acl_rules()->allowed(acl::access::publish, "c", "alice", "", "b/c"));
  // Readers holding the old snapshots keep a consistent view.
  EXPECT_TRUE(old_pw->verify("alice", "one"));
  EXPECT_TRUE(old_acl->allowed(acl::access::publish, "c", "alice", "", "a/b"));
}

TEST(AuthStore, BrokenEditKeepsEverythingOld) {
  temp_dir dir;
  auto pw = dir.write("pw", make_entry("alice", "one") + "\n");
  auto acl_path = dir.write("acl", "allow username alice 3 a/#\n");
  auth_store store{pw, acl_path};
  ASSERT_TRUE(store.reload().empty());

  // The password file is fine, the ACL is broken: neither is replaced (all or nothing).
  dir.write("pw", make_entry("alice", "two") + "\n");
  dir.write("acl", "allow username alice 3 a/#\nallow nobody\n");
  auto errors = store.reload();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, acl_path);
  EXPECT_EQ(errors[0].line, 2u);
  EXPECT_EQ(store.generation(), 1u);
  EXPECT_TRUE(store.passwords()->verify("alice", "one"));

  // Both broken: both reported.
  dir.write("pw", "alice\n");
  errors = store.reload();
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].file, pw);
  EXPECT_EQ(errors[0].line, 1u);

  // A deleted file is an error too, and still nothing changes.
  std::filesystem::remove(pw);
  errors = store.reload();
  ASSERT_FALSE(errors.empty());
  EXPECT_TRUE(contains(errors[0].to_string(), pw)) << errors[0].to_string();
  EXPECT_TRUE(store.passwords()->verify("alice", "one"));

  // Fixed: the reload goes through.
  dir.write("pw", make_entry("alice", "three") + "\n");
  dir.write("acl", "allow username alice 3 c\n");
  EXPECT_TRUE(store.reload().empty());
  EXPECT_TRUE(store.passwords()->verify("alice", "three"));
  EXPECT_EQ(store.generation(), 2u);
}

TEST(AuthStore, ConcurrentReadersDuringReloads) {
  temp_dir dir;
  auto pw = dir.write("pw", make_entry("alice", "one") + "\n");
  auth_store store{pw, ""};
  ASSERT_TRUE(store.reload().empty());
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    while (!stop) {
      auto db = store.passwords();
      if (!db || !db->has_user("alice"))
        ++bad;
    }
  });
  for (int i = 0; i < 50; ++i)
    EXPECT_TRUE(store.reload().empty());
  stop = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
}

} // namespace
} // namespace colony::config
