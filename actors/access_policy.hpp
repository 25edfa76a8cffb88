// access_policy: what a session asks before it lets a client publish, subscribe or read a
// topic. The actors layer only knows this interface; the program implements it with the ACL
// file (config/acl) and reloads it on SIGHUP.
#pragma once

#include <string_view>

namespace colony::actors {

/// Who is asking: the identity of one connection.
struct client_identity {
  std::string_view client_id;
  std::string_view username; ///< "" when the client sent none
  std::string_view ip;
};

class access_policy {
public:
  virtual ~access_policy() = default;
  /// False when every check would allow (no ACL): callers skip the checks entirely.
  virtual bool active() const = 0;
  virtual bool may_publish(const client_identity& who, std::string_view topic) const = 0;
  /// `filter` may hold wildcards and a $share/$queue prefix.
  virtual bool may_subscribe(const client_identity& who, std::string_view filter) const = 0;
  /// Delivery of a message on `topic` to this client (live and retained).
  virtual bool may_read(const client_identity& who, std::string_view topic) const = 0;
};

} // namespace colony::actors
