#include "server/access.hpp"

#include "metrics/log.hpp"

namespace colony::server {

using actors::auth_outcome;

access_control::access_control(const config::settings& s, bool allow_anonymous,
                               std::vector<std::string>& errors)
  : allow_anonymous_(allow_anonymous), store_(s.password_file, s.acl_file) {
  for (auto& e : store_.reload())
    errors.push_back(e.to_string());
  if (!s.auth_http_url.empty() || !s.acl_http_url.empty()) {
    config::http_auth_options o;
    o.auth_url = s.auth_http_url;
    o.acl_url = s.acl_http_url;
    o.timeout = std::chrono::milliseconds{s.auth_http_timeout_ms};
    o.cache_ttl = std::chrono::seconds{s.auth_http_cache_seconds};
    o.on_error = [](const std::string& what) {
      log::warn("auth", "HTTP auth hook failed", {{"error", what}});
    };
    std::string error;
    http_ = config::http_auth::create(std::move(o), error);
    if (!http_)
      errors.push_back(error);
  }
}

std::vector<std::string> access_control::reload() {
  std::vector<std::string> out;
  for (auto& e : store_.reload())
    out.push_back(e.to_string());
  return out;
}

bool access_control::has_authentication() const {
  return !store_.password_file().empty() || (http_ && http_->has_auth_url());
}

void access_control::authenticate(const codec::connect& c, const transport::link&,
                                  std::function<void(auth_outcome)> done) {
  if (c.username) {
    auto db = store_.passwords();
    if (db && db->has_user(*c.username)) {
      // Constant-time comparison inside verify(); the password is never logged.
      done(db->verify(*c.username, c.password.value_or(""))
             ? auth_outcome::allowed
             : auth_outcome::bad_credentials);
      return;
    }
    if (http_ && http_->has_auth_url()) {
      config::http_auth_request req{c.client_id, *c.username, c.password.value_or("")};
      http_->check_auth(std::move(req), [done = std::move(done)](bool ok) {
        done(ok ? auth_outcome::allowed : auth_outcome::bad_credentials);
      });
      return;
    }
    if (db) {
      done(auth_outcome::bad_credentials); // a password file is in force: unknown user
      return;
    }
  }
  done(allow_anonymous_ ? auth_outcome::allowed : auth_outcome::not_authorized);
}

bool access_control::active() const {
  return store_.acl_rules() != nullptr;
}

bool access_control::allowed(config::acl::access a, const actors::client_identity& who,
                             std::string_view topic) const {
  auto rules = store_.acl_rules();
  if (!rules)
    return true;
  return rules->allowed(a, who.client_id, who.username, who.ip, topic);
}

bool access_control::may_publish(const actors::client_identity& who,
                                 std::string_view topic) const {
  return allowed(config::acl::access::publish, who, topic);
}

bool access_control::may_subscribe(const actors::client_identity& who,
                                   std::string_view filter) const {
  return allowed(config::acl::access::subscribe, who, filter);
}

bool access_control::may_read(const actors::client_identity& who, std::string_view topic) const {
  return allowed(config::acl::access::subscribe, who, topic);
}

const actors::async_access_hook* access_control::async_hook() const {
  return http_ && http_->has_acl_url() ? this : nullptr;
}

namespace {

config::http_acl_request acl_request(const actors::client_identity& who,
                                     actors::access_kind kind, std::string_view topic) {
  config::http_acl_request r;
  r.client_id = who.client_id;
  r.username = who.username;
  r.ip = who.ip;
  r.topic = topic;
  r.action = kind == actors::access_kind::publish ? config::acl::access::publish
                                                  : config::acl::access::subscribe;
  return r;
}

} // namespace

std::optional<bool> access_control::cached(const actors::client_identity& who,
                                           actors::access_kind kind,
                                           std::string_view topic) const {
  return http_->cached_acl(acl_request(who, kind, topic));
}

void access_control::ask(const actors::client_identity& who, actors::access_kind kind,
                         std::string_view topic, std::function<void(bool)> done) const {
  http_->check_acl(acl_request(who, kind, topic), std::move(done));
}

} // namespace colony::server
