// The broker's authentication and authorization, built from configuration: the password
// file and ACL file (reloaded on SIGHUP through config::auth_store) and the HTTP auth hook.
// Implements the actors layer's authenticator and access_policy interfaces.
#pragma once

#include "actors/access_policy.hpp"
#include "actors/connection_actor.hpp"
#include "config/auth_store.hpp"
#include "config/http_auth.hpp"
#include "config/settings.hpp"

#include <memory>
#include <string>
#include <vector>

namespace colony::server {

/// Authorization rule: the ACL file is asked first; when it allows (or there is none) and
/// --acl-http-url is set, the HTTP hook is asked too. Both must allow.
class access_control final : public actors::authenticator,
                             public actors::access_policy,
                             public actors::async_access_hook {
public:
  /// Loads the files; on failure `errors` holds one message per problem.
  access_control(const config::settings& s, bool allow_anonymous,
                 std::vector<std::string>& errors);

  /// SIGHUP: re-reads the files; the old rules stay when a file is broken.
  std::vector<std::string> reload();

  /// True when some authentication beyond the anonymous rule is configured.
  bool has_authentication() const;
  /// The current password file (nullptr when none); SCRAM exchanges read it.
  std::shared_ptr<const config::password_db> passwords() const { return store_.passwords(); }

  // -- authenticator ------------------------------------------------------------
  void authenticate(const codec::connect& c, const transport::link& link,
                    std::function<void(actors::auth_outcome)> done) override;
  /// No username: the anonymous rule, at once.
  std::optional<actors::auth_outcome> decide_at_once(const codec::connect& c) const override;

  // -- access_policy ------------------------------------------------------------
  bool active() const override;
  bool may_publish(const actors::client_identity& who, std::string_view topic) const override;
  bool may_subscribe(const actors::client_identity& who, std::string_view filter) const override;
  bool may_read(const actors::client_identity& who, std::string_view topic) const override;
  const actors::async_access_hook* async_hook() const override;

  // -- async_access_hook (the HTTP ACL) -------------------------------------------
  std::optional<bool> cached(const actors::client_identity& who, actors::access_kind kind,
                             std::string_view topic) const override;
  void ask(const actors::client_identity& who, actors::access_kind kind, std::string_view topic,
           std::function<void(bool)> done) const override;

private:
  bool allowed(config::acl::access a, const actors::client_identity& who,
               std::string_view topic) const;

  bool allow_anonymous_;
  config::auth_store store_;
  std::unique_ptr<config::http_auth> http_;
};

/// The enhanced authentication methods of --auth-methods, over `access`'s password file (each
/// exchange uses the file as it is when the exchange starts, so SIGHUP applies to the next
/// one). Empty when no password file is configured.
std::shared_ptr<const actors::auth_methods>
make_auth_methods(const config::settings& s, std::shared_ptr<const access_control> access);

} // namespace colony::server
