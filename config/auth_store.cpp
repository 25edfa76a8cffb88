#include "config/auth_store.hpp"

namespace colony::config {

auth_store::auth_store(std::string password_file, std::string acl_file)
  : password_file_(std::move(password_file)), acl_file_(std::move(acl_file)) {}

std::vector<load_error> auth_store::reload() {
  std::vector<load_error> errors;
  std::shared_ptr<const password_db> passwords;
  std::shared_ptr<const acl> rules;
  if (!password_file_.empty()) {
    auto loaded = password_db::load(password_file_);
    if (loaded)
      passwords = std::make_shared<const password_db>(std::move(loaded).value());
    else
      errors.push_back(loaded.error());
  }
  if (!acl_file_.empty()) {
    auto loaded = acl::load(acl_file_);
    if (loaded)
      rules = std::make_shared<const acl>(std::move(loaded).value());
    else
      errors.push_back(loaded.error());
  }
  if (!errors.empty())
    return errors;
  std::lock_guard<std::mutex> guard{mtx_};
  passwords_ = std::move(passwords);
  acl_ = std::move(rules);
  ++generation_;
  return errors;
}

std::shared_ptr<const password_db> auth_store::passwords() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return passwords_;
}

std::shared_ptr<const acl> auth_store::acl_rules() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return acl_;
}

std::uint64_t auth_store::generation() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return generation_;
}

} // namespace colony::config
