#include "config/acl.hpp"

#include "codec/topic.hpp"
#include "config/text.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

namespace colony::config {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_space(s.back()))
    s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_fields(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i]))
      ++i;
    std::size_t start = i;
    while (i < s.size() && !is_space(s[i]))
      ++i;
    if (i > start)
      out.push_back(s.substr(start, i - start));
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out{s};
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}


bool is_wildcard(std::string_view level) {
  return level == "+" || level == "#";
}

bool starts_with_dollar(std::string_view level) {
  return !level.empty() && level.front() == '$';
}

/// "::ffff:1.2.3.4" -> "1.2.3.4"; "[::1]" -> "::1"; otherwise unchanged.
std::string_view normalize_ip(std::string_view ip) {
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']')
    ip = ip.substr(1, ip.size() - 2);
  constexpr std::string_view mapped = "::ffff:";
  if (ip.size() > mapped.size() && ip.find('.') != std::string_view::npos) {
    bool prefix = true;
    for (std::size_t i = 0; i < mapped.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(ip[i])) != mapped[i])
        prefix = false;
    if (prefix)
      ip.remove_prefix(mapped.size());
  }
  return ip;
}

/// A substitution value is safe if it cannot widen the filter or reach another subtree.
bool safe_substitution(std::string_view v) {
  return !v.empty() && v.find_first_of("/+#") == std::string_view::npos;
}

/// Expands %c and %u in `filter`. nullopt when a needed value is missing or unsafe.
std::optional<std::string> expand(const std::string& filter, std::string_view client_id,
                                  std::string_view username) {
  if (filter.find('%') == std::string::npos)
    return filter;
  std::string out;
  out.reserve(filter.size() + 16);
  for (std::size_t i = 0; i < filter.size(); ++i) {
    if (filter[i] == '%' && i + 1 < filter.size()
        && (filter[i + 1] == 'c' || filter[i + 1] == 'u')) {
      auto value = filter[i + 1] == 'c' ? client_id : username;
      if (!safe_substitution(value))
        return std::nullopt;
      out += value;
      ++i;
    } else {
      out += filter[i];
    }
  }
  return out;
}

} // namespace

bool filter_covers(std::string_view outer, std::string_view inner) noexcept {
  auto o = split(outer, '/');
  auto in = split(inner, '/');
  for (std::size_t k = 0;; ++k) {
    if (k == o.size())
      return k == in.size();
    if (o[k] == "#") {
      // '#' as the first level does not match topics starting with '$' (MQTT-4.7.2-1).
      return !(k == 0 && starts_with_dollar(in[0]));
    }
    if (k == in.size())
      return false; // outer needs more levels than inner's topics have
    if (o[k] == "+") {
      if (in[k] == "#")
        return false;
      if (k == 0 && starts_with_dollar(in[0]))
        return false;
      continue;
    }
    if (in[k] != o[k]) // a literal level covers only the same literal
      return false;
  }
}

bool filters_intersect(std::string_view a, std::string_view b) noexcept {
  auto x = split(a, '/');
  auto y = split(b, '/');
  for (std::size_t k = 0;; ++k) {
    bool x_end = k == x.size();
    bool y_end = k == y.size();
    if (x_end && y_end)
      return true;
    if (x_end) // "a" and "a/#" share "a"
      return y.size() == k + 1 && y[k] == "#";
    if (y_end)
      return x.size() == k + 1 && x[k] == "#";
    if (k == 0) {
      if (is_wildcard(x[0]) && starts_with_dollar(y[0]))
        return false;
      if (is_wildcard(y[0]) && starts_with_dollar(x[0]))
        return false;
    }
    if (x[k] == "#" || y[k] == "#")
      return true;
    if (x[k] == "+" || y[k] == "+")
      continue;
    if (x[k] != y[k])
      return false;
  }
}

load_result<acl> acl::load(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return load_error{path, 0, std::string{"cannot read the ACL file: "} + std::strerror(errno)};
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad())
    return load_error{path, 0, "cannot read the ACL file"};
  return parse(buf.str(), path);
}

load_result<acl> acl::parse(std::string_view text, const std::string& name) {
  acl result;
  std::size_t lineno = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto nl = text.find('\n', start);
    auto raw = text.substr(start, nl == std::string_view::npos ? std::string_view::npos
                                                                : nl - start);
    start = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++lineno;
    auto line = trim(raw);
    // Blank lines anywhere (hmq stopped reading at the first one); hmq's comment styles.
    if (line.empty() || line.front() == '#' || line.front() == ';' || line.front() == '*'
        || line.substr(0, 2) == "//")
      continue;
    auto fail = [&](std::string msg) { return load_error{name, lineno, std::move(msg)}; };
    auto fields = split_fields(line);
    if (fields.size() < 5)
      return fail("expected 'allow|deny clientid|username|ip VALUE|* 1|2|3 TOPIC[,TOPIC...]', "
                  "got " + std::to_string(fields.size()) + " field(s)");
    rule r;
    r.line = lineno;
    auto verb = lower(fields[0]);
    if (verb == "allow")
      r.allow = true;
    else if (verb == "deny")
      r.allow = false;
    else
      return fail("expected 'allow' or 'deny', got '" + std::string{fields[0]} + "'");
    auto who = lower(fields[1]);
    if (who == "clientid")
      r.who = subject::client_id;
    else if (who == "username")
      r.who = subject::username;
    else if (who == "ip")
      r.who = subject::ip;
    else
      return fail("expected 'clientid', 'username' or 'ip', got '" + std::string{fields[1]}
                  + "'");
    r.value = std::string{r.who == subject::ip ? normalize_ip(fields[2]) : fields[2]};
    if (fields[3] == "1")
      r.actions = static_cast<std::uint8_t>(access::subscribe);
    else if (fields[3] == "2")
      r.actions = static_cast<std::uint8_t>(access::publish);
    else if (fields[3] == "3")
      r.actions = 3;
    else
      return fail("expected 1 (subscribe), 2 (publish) or 3 (both), got '"
                  + std::string{fields[3]} + "'");
    // hmq removed spaces from the topic list; accept "a, b" the same way.
    std::string topics;
    for (std::size_t i = 4; i < fields.size(); ++i)
      topics += fields[i];
    std::size_t pos = 0;
    while (true) {
      auto comma = topics.find(',', pos);
      auto t = topics.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      if (t.empty())
        return fail("empty topic in the list '" + topics + "'");
      if (!codec::is_valid_topic_filter(t))
        return fail("invalid topic filter '" + t + "'");
      r.filters.push_back(std::move(t));
      if (comma == std::string::npos)
        break;
      pos = comma + 1;
    }
    result.rules_.push_back(std::move(r));
  }
  return result;
}

bool acl::allowed(access a, std::string_view client_id, std::string_view username,
                  std::string_view ip, std::string_view topic) const {
  if (rules_.empty())
    return true;
  std::string_view filter = topic;
  std::string shared_inner;
  if (a == access::subscribe) {
    auto shared = codec::parse_shared(topic);
    if (shared.is_shared) {
      if (!shared.valid)
        return false;
      shared_inner = std::move(shared.value.filter);
      filter = shared_inner;
    }
  }
  auto bit = static_cast<std::uint8_t>(a);
  auto norm_ip = normalize_ip(ip);
  for (auto& r : rules_) {
    if ((r.actions & bit) == 0)
      continue;
    std::string_view who_value;
    switch (r.who) {
      case subject::client_id:
        who_value = client_id;
        break;
      case subject::username:
        who_value = username;
        break;
      case subject::ip:
        who_value = norm_ip;
        break;
    }
    if (r.value != "*" && r.value != who_value)
      continue;
    for (auto& pattern : r.filters) {
      auto expanded = expand(pattern, client_id, username);
      if (!expanded)
        continue;
      bool match = false;
      if (a == access::publish)
        match = codec::topic_matches(*expanded, filter);
      else if (r.allow)
        match = filter_covers(*expanded, filter);
      else
        match = filters_intersect(*expanded, filter);
      if (match)
        return r.allow;
    }
  }
  return false;
}

} // namespace colony::config
