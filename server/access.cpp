#include "server/access.hpp"

#include "config/scram.hpp"
#include "metrics/log.hpp"

namespace colony::server {

using actors::auth_outcome;

namespace {

/// A SCRAM exchange (config::scram_server) as an actors::auth_exchange.
class scram_exchange final : public actors::auth_exchange {
public:
  scram_exchange(config::scram_digest d, std::shared_ptr<const config::password_db> db)
    : server_(d, [d, db = std::move(db)](std::string_view user) {
        return db ? db->scram_keys_for(user, d) : std::nullopt;
      }) {}

  actors::auth_step start(std::string_view data) override { return convert(server_.step(data)); }
  actors::auth_step next(std::string_view data) override { return convert(server_.step(data)); }

private:
  actors::auth_step convert(config::scram_server::result r) {
    using st = config::scram_server::status;
    using out = actors::auth_step::outcome;
    actors::auth_step step;
    switch (r.what) {
      case st::proceed:
        step.what = out::proceed;
        break;
      case st::success:
        step.what = out::success;
        step.user = server_.user();
        break;
      case st::failure:
        step.what = out::failure;
        break;
    }
    step.data = std::move(r.data);
    step.error = std::move(r.error);
    return step;
  }

  config::scram_server server_;
};

} // namespace

std::shared_ptr<const actors::auth_methods>
make_auth_methods(const config::settings& s, std::shared_ptr<const access_control> access) {
  auto methods = std::make_shared<actors::auth_methods>();
  if (s.password_file.empty() || !access)
    return methods;
  std::string error;
  for (const auto& name : config::parse_auth_methods(s.auth_methods, error)) {
    auto d = name == config::scram_method_name(config::scram_digest::sha256)
               ? config::scram_digest::sha256
               : config::scram_digest::sha512;
    methods->add(name, [d, access] {
      return std::make_unique<scram_exchange>(d, access->passwords());
    });
  }
  return methods;
}

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

std::optional<actors::auth_outcome> access_control::decide_at_once(const codec::connect& c) const {
  if (c.username)
    return std::nullopt;
  return allow_anonymous_ ? actors::auth_outcome::allowed : actors::auth_outcome::not_authorized;
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
