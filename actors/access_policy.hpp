// access_policy: what a session asks before it lets a client publish, subscribe or read a
// topic. The actors layer only knows this interface; the program implements it with the ACL
// file (config/acl, reloaded on SIGHUP) and the HTTP ACL hook (config/http_auth).
//
// Two parts, both must allow when both are configured:
//  - the synchronous rules (may_publish / may_subscribe / may_read: the ACL file), asked
//    first; a denial there is final and the hook is not asked;
//  - an asynchronous hook (async_hook(): the HTTP ACL), asked for PUBLISH topics, will topics
//    and SUBSCRIBE filters. Its answers arrive later on another thread; the session holds the
//    client's later packets until then so their order is kept.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

namespace colony::actors {

/// Who is asking: the identity of one connection.
struct client_identity {
  std::string_view client_id;
  std::string_view username; ///< "" when the client sent none
  std::string_view ip;
};

/// The access asked for (numbered as hmq's ACL "access" parameter).
enum class access_kind : std::uint8_t { subscribe = 1, publish = 2 };

/// An authorization hook that answers asynchronously (the HTTP ACL).
class async_access_hook {
public:
  virtual ~async_access_hook() = default;
  /// The answer if it is known without I/O (cached), else nullopt. Any thread.
  virtual std::optional<bool> cached(const client_identity& who, access_kind kind,
                                     std::string_view topic) const = 0;
  /// Asks; calls `done(allowed)` exactly once, later, on a thread of the hook (never inline,
  /// never blocking the caller). Failures and timeouts answer false (fail closed).
  virtual void ask(const client_identity& who, access_kind kind, std::string_view topic,
                   std::function<void(bool allowed)> done) const = 0;
};

class access_policy {
public:
  virtual ~access_policy() = default;
  /// False when every synchronous check would allow (no ACL file): callers skip them.
  virtual bool active() const = 0;
  virtual bool may_publish(const client_identity& who, std::string_view topic) const = 0;
  /// `filter` may hold wildcards and a $share/$queue prefix.
  virtual bool may_subscribe(const client_identity& who, std::string_view filter) const = 0;
  /// Delivery of a message on `topic` to this client (live and retained).
  virtual bool may_read(const client_identity& who, std::string_view topic) const = 0;
  /// The asynchronous hook, or null when none is configured.
  virtual const async_access_hook* async_hook() const { return nullptr; }
};

} // namespace colony::actors
