// MQTT 5 enhanced authentication (§4.12), as the actors layer sees it: a registry of methods
// by name, each making one stateful exchange per authentication. The connection actor runs
// an exchange between CONNECT and CONNACK; the session runs one again on re-authentication
// (AUTH 0x19). What a method does (SCRAM over the password file, ...) is wired in by the
// server (server/access.cpp); nothing here knows about files or crypto.
//
//   auto ex = methods.create("SCRAM-SHA-256");   // nullptr: not offered -> 0x8C
//   auto s = ex->start(connect_auth_data);       // proceed -> AUTH 0x18 with s.data
//   s = ex->next(auth_data);                     // ... until success or failure
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace colony::actors {

/// One step of an exchange.
struct auth_step {
  enum class outcome : std::uint8_t { proceed, success, failure };
  outcome what = outcome::failure;
  std::string data;  ///< server data: for AUTH 0x18 (proceed) or CONNACK / AUTH 0x00 (success)
  std::string user;  ///< success: the authenticated identity (the username for ACLs)
  std::string error; ///< failure: why, for the log (never a secret)
};

/// One authentication in progress. Not thread-safe; owned by one actor.
class auth_exchange {
public:
  virtual ~auth_exchange() = default;
  /// The Authentication Data of CONNECT (or of AUTH 0x19); empty when absent.
  virtual auth_step start(std::string_view client_data) = 0;
  /// The Authentication Data of the client's next AUTH 0x18.
  virtual auth_step next(std::string_view client_data) = 0;
};

/// The enabled methods. Filled once at start-up, then shared read-only between actors.
class auth_methods {
public:
  using factory = std::function<std::unique_ptr<auth_exchange>()>;

  void add(std::string name, factory f) {
    methods_.insert_or_assign(std::move(name), std::move(f));
  }

  /// A new exchange for `name`, or nullptr when that method is not offered.
  std::unique_ptr<auth_exchange> create(std::string_view name) const {
    auto it = methods_.find(name);
    return it == methods_.end() ? nullptr : it->second();
  }

  bool empty() const noexcept { return methods_.empty(); }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (auto& [name, _] : methods_)
      out.push_back(name);
    return out;
  }

private:
  std::map<std::string, factory, std::less<>> methods_;
};

} // namespace colony::actors
