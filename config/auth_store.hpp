// The broker's current password file and ACL, replaceable at run time (SIGHUP).
//
// Readers take a snapshot (`passwords()`, `acl_rules()`: shared_ptr<const ...>) and use it
// without locks; `reload()` swaps in new snapshots only when every configured file loads, so a
// broken edit never takes away working credentials.
#pragma once

#include "config/acl.hpp"
#include "config/load_result.hpp"
#include "config/password_file.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace colony::config {

class auth_store {
public:
  /// Empty paths mean "no password file" / "no ACL". Nothing is loaded until reload().
  auth_store(std::string password_file, std::string acl_file);

  /// (Re)reads the configured files. All or nothing: on any error, the previous snapshots stay
  /// and the errors are returned (file, line, message). Empty = success. Thread-safe.
  std::vector<load_error> reload();

  /// The current password file, or nullptr when none is configured (or none loaded yet).
  std::shared_ptr<const password_db> passwords() const;
  /// The current ACL, or nullptr when none is configured (then everything is allowed).
  std::shared_ptr<const acl> acl_rules() const;

  const std::string& password_file() const noexcept { return password_file_; }
  const std::string& acl_file() const noexcept { return acl_file_; }
  /// Number of successful reloads so far (0 = never loaded).
  std::uint64_t generation() const;

private:
  const std::string password_file_;
  const std::string acl_file_;
  mutable std::mutex mtx_;
  std::shared_ptr<const password_db> passwords_;
  std::shared_ptr<const acl> acl_;
  std::uint64_t generation_ = 0;
};

} // namespace colony::config
