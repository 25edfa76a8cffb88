#include "config/hmq_compat.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>

namespace colony::config::hmq {

namespace {

// -- flags ------------------------------------------------------------------------------------

enum class flag_kind { value, debug, ignored_value, help };

struct flag_rule {
  flag_kind kind;
  const char* colony; ///< the Colony long option ("--port"), or nullptr
};

const std::map<std::string, flag_rule, std::less<>>& flag_table() {
  static const std::map<std::string, flag_rule, std::less<>> table{
    {"p", {flag_kind::value, "--port"}},
    {"port", {flag_kind::value, "--port"}},
    {"host", {flag_kind::value, "--host"}},
    {"ws", {flag_kind::value, "--ws-port"}},
    {"wsport", {flag_kind::value, "--ws-port"}},
    {"wsp", {flag_kind::value, "--ws-path"}},
    {"wspath", {flag_kind::value, "--ws-path"}},
    {"hp", {flag_kind::value, "--http-port"}},
    {"httpport", {flag_kind::value, "--http-port"}},
    {"c", {flag_kind::value, "--config"}},
    {"config", {flag_kind::value, "--config"}},
    {"cp", {flag_kind::value, "--cluster-port"}},
    {"clusterport", {flag_kind::value, "--cluster-port"}},
    {"r", {flag_kind::value, "--cluster-seeds"}},
    {"router", {flag_kind::value, "--cluster-seeds"}},
    {"d", {flag_kind::debug, nullptr}},
    {"debug", {flag_kind::debug, nullptr}},
    {"D", {flag_kind::debug, nullptr}},
    {"w", {flag_kind::ignored_value, nullptr}},
    {"worker", {flag_kind::ignored_value, nullptr}},
    {"h", {flag_kind::help, "--help"}},
    {"help", {flag_kind::help, "--help"}},
  };
  return table;
}

bool go_bool_true(std::string_view v) {
  // Go's strconv.ParseBool.
  return v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True";
}

} // namespace

std::vector<std::string> translate_args(const std::vector<std::string>& args,
                                        const colony_option_fn& colony_option,
                                        std::vector<std::string>& warnings) {
  const auto& table = flag_table();
  bool explicit_log_level = std::any_of(args.begin(), args.end(), [](const std::string& a) {
    return a == "--log-level" || a.rfind("--log-level=", 0) == 0;
  });
  bool warned_worker = false;
  bool debug_added = false;
  std::vector<std::string> out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") { // end of options: copy the rest as is
      out.insert(out.end(), args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      out.push_back(arg);
      continue;
    }
    bool double_dash = arg[1] == '-';
    std::string_view body = std::string_view{arg}.substr(double_dash ? 2 : 1);
    auto eq = body.find('=');
    std::string_view name = body.substr(0, eq);
    std::optional<std::string> inline_value;
    if (eq != std::string_view::npos)
      inline_value = std::string{body.substr(eq + 1)};
    if (double_dash && colony_option) {
      if (auto co = colony_option(name)) { // Colony's own option: keep it (and its value)
        out.push_back(arg);
        if (*co && !inline_value && i + 1 < args.size())
          out.push_back(args[++i]); // the option's value, whatever it looks like
        continue;
      }
    }
    auto it = table.find(name);
    if (it == table.end()) {
      out.push_back(arg); // not hmq's either: the parser reports it
      continue;
    }
    const flag_rule& rule = it->second;
    switch (rule.kind) {
      case flag_kind::value: {
        std::string value;
        if (inline_value) {
          value = *inline_value;
        } else if (i + 1 < args.size()) {
          value = args[++i];
        } else {
          out.push_back(rule.colony); // let the parser report the missing value
          break;
        }
        out.push_back(std::string{rule.colony} + "=" + value);
        break;
      }
      case flag_kind::debug: {
        bool on = !inline_value || go_bool_true(*inline_value);
        if (on && !explicit_log_level && !debug_added) {
          out.push_back("--log-level=debug");
          debug_added = true;
        }
        break;
      }
      case flag_kind::ignored_value:
        if (!inline_value && i + 1 < args.size())
          ++i; // skip the worker count
        if (!warned_worker) {
          warnings.push_back("hmq flag '" + arg.substr(0, arg.find('='))
                             + "' (worker count) has no meaning in Colony and is ignored; "
                               "see --worker-threads");
          warned_worker = true;
        }
        break;
      case flag_kind::help:
        out.push_back("--help");
        break;
    }
  }
  return out;
}

// -- JSON -------------------------------------------------------------------------------------

namespace {

const std::set<std::string, std::less<>>& hmq_keys() {
  static const std::set<std::string, std::less<>> keys{
    "tlsPort", "tlsHost", "tlsInfo", "wsPort",  "wsPath", "wsTLS",  "httpPort",
    "debug",   "plugins", "workerNum", "cluster", "router", "acl", "aclConf",
  };
  return keys;
}

std::string quoted(const nlohmann::json& v) {
  return v.dump();
}

/// A port-like value: an integer, or a string of digits (optionally '-'). nullopt = not set
/// (""); sets `error` on anything else.
std::optional<long long> int_value(const std::string& key, const nlohmann::json& v,
                                   std::string& error) {
  if (v.is_number_integer())
    return v.get<long long>();
  if (v.is_string()) {
    auto s = v.get<std::string>();
    if (s.empty())
      return std::nullopt;
    long long n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec == std::errc{} && end == s.data() + s.size())
      return n;
  }
  error = "config key '" + key + "': value " + quoted(v)
          + " is not an integer (or a string of digits)";
  return std::nullopt;
}

std::optional<bool> bool_value(const std::string& key, const nlohmann::json& v,
                               std::string& error) {
  if (v.is_boolean())
    return v.get<bool>();
  if (v.is_string()) {
    auto s = v.get<std::string>();
    if (s == "true")
      return true;
    if (s == "false")
      return false;
    if (s.empty())
      return std::nullopt;
  }
  error = "config key '" + key + "': value " + quoted(v) + " is not a boolean";
  return std::nullopt;
}

std::optional<std::string> text_value(const std::string& key, const nlohmann::json& v,
                                      std::string& error) {
  if (v.is_string()) {
    auto s = v.get<std::string>();
    if (s.empty())
      return std::nullopt;
    return s;
  }
  error = "config key '" + key + "': value " + quoted(v) + " is not a string";
  return std::nullopt;
}

bool is_numeric_string(const nlohmann::json& v) {
  if (!v.is_string())
    return false;
  auto s = v.get<std::string>();
  std::string_view body = s;
  if (!body.empty() && body.front() == '-')
    body.remove_prefix(1);
  return !body.empty()
         && std::all_of(body.begin(), body.end(), [](char c) { return c >= '0' && c <= '9'; });
}

} // namespace

bool is_hmq_key(std::string_view key) {
  return hmq_keys().count(key) > 0;
}

bool translate_json(nlohmann::json& doc, std::vector<std::string>& warnings,
                    std::string& error) {
  if (!doc.is_object())
    return true;
  // The shared keys: hmq wrote "port": "1883" and "host": "" (= default).
  if (auto it = doc.find("port"); it != doc.end() && it->is_string()) {
    if (it->get<std::string>().empty())
      doc.erase(it);
    else if (is_numeric_string(*it))
      *it = std::stoll(it->get<std::string>());
    // anything else stays a string: the normal type check names key and value
  }
  if (auto it = doc.find("host"); it != doc.end() && it->is_string()
                                   && it->get<std::string>().empty())
    doc.erase(it);

  bool any = false;
  for (auto& [key, _] : doc.items())
    if (is_hmq_key(key))
      any = true;
  if (!any)
    return true;

  nlohmann::json src = doc; // read hmq keys from a copy; write Colony keys into `doc`
  for (auto& k : hmq_keys())
    doc.erase(k);
  auto set = [&](const std::string& colony_key, const std::string& from,
                 nlohmann::json value) {
    if (src.contains(colony_key)) {
      warnings.push_back("hmq key '" + from + "' is ignored: '" + colony_key
                         + "' is set in the same file");
      return;
    }
    doc[colony_key] = std::move(value);
  };
  auto warn_ignored = [&](const std::string& key, const std::string& why) {
    warnings.push_back("hmq key '" + key + "' is ignored: " + why);
  };
  auto port_key = [&](const char* hmq_key, const std::string& colony_key) {
    auto it = src.find(hmq_key);
    if (it == src.end())
      return true;
    auto n = int_value(hmq_key, *it, error);
    if (!error.empty())
      return false;
    if (n)
      set(colony_key, hmq_key, *n);
    return true;
  };
  auto text_key = [&](const nlohmann::json& obj, const char* key, const std::string& name,
                      const std::string& colony_key) {
    auto it = obj.find(key);
    if (it == obj.end())
      return true;
    auto t = text_value(name, *it, error);
    if (!error.empty())
      return false;
    if (t)
      set(colony_key, name, *t);
    return true;
  };

  // -- WebSocket: wsTLS turns wsPort into the WebSocket-over-TLS port --
  bool ws_tls = false;
  if (auto it = src.find("wsTLS"); it != src.end()) {
    auto b = bool_value("wsTLS", *it, error);
    if (!error.empty())
      return false;
    ws_tls = b.value_or(false);
  }
  if (!port_key("wsPort", ws_tls ? "wss-port" : "ws-port"))
    return false;
  if (ws_tls && src.contains("wsPort") && !src.contains("ws-port"))
    doc["ws-port"] = -1; // hmq served WebSocket over TLS only
  if (!text_key(src, "wsPath", "wsPath", "ws-path"))
    return false;

  // -- TLS --
  if (!port_key("tlsPort", "tls-port") || !port_key("httpPort", "http-port"))
    return false;
  if (auto it = src.find("tlsHost"); it != src.end()) {
    auto t = text_value("tlsHost", *it, error);
    if (!error.empty())
      return false;
    if (t)
      warn_ignored("tlsHost", "Colony binds every listener to 'host'");
  }
  if (auto it = src.find("tlsInfo"); it != src.end()) {
    if (!it->is_object()) {
      error = "config key 'tlsInfo': value " + quoted(*it) + " is not an object";
      return false;
    }
    for (auto& [sub, value] : it->items()) {
      std::string name = "tlsInfo." + sub;
      if (sub == "verify") {
        auto b = bool_value(name, value, error);
        if (!error.empty())
          return false;
        if (b)
          set("tls-verify", name, *b);
      } else if (sub == "caFile" || sub == "certFile" || sub == "keyFile") {
        const char* target = sub == "caFile" ? "tls-ca" : sub == "certFile" ? "tls-cert"
                                                                             : "tls-key";
        if (!text_key(*it, sub.c_str(), name, target))
          return false;
      } else {
        warn_ignored(name, "not an hmq setting Colony knows");
      }
    }
  }

  // -- logging --
  if (auto it = src.find("debug"); it != src.end()) {
    auto b = bool_value("debug", *it, error);
    if (!error.empty())
      return false;
    if (b.value_or(false))
      set("log-level", "debug", "debug");
  }

  // -- cluster --
  std::vector<std::string> seeds;
  if (auto it = src.find("cluster"); it != src.end()) {
    if (!it->is_object()) {
      error = "config key 'cluster': value " + quoted(*it) + " is not an object";
      return false;
    }
    for (auto& [sub, value] : it->items()) {
      std::string name = "cluster." + sub;
      if (sub == "port") {
        auto n = int_value(name, value, error);
        if (!error.empty())
          return false;
        if (n)
          set("cluster-port", name, *n);
      } else if (sub == "host") {
        auto t = text_value(name, value, error);
        if (!error.empty())
          return false;
        if (t)
          warn_ignored(name, "Colony binds the cluster port to 'host'");
      } else if (sub == "routes") {
        if (!value.is_array()) {
          error = "config key '" + name + "': value " + quoted(value)
                  + " is not a list of strings";
          return false;
        }
        for (auto& r : value) {
          if (!r.is_string()) {
            error = "config key '" + name + "': value " + quoted(r) + " is not a string";
            return false;
          }
          if (!r.get<std::string>().empty())
            seeds.push_back(r.get<std::string>());
        }
      } else {
        warn_ignored(name, "not an hmq setting Colony knows");
      }
    }
  }
  if (auto it = src.find("router"); it != src.end()) {
    auto t = text_value("router", *it, error);
    if (!error.empty())
      return false;
    if (t)
      seeds.push_back(*t);
  }
  if (!seeds.empty()) {
    std::string joined;
    for (auto& s : seeds)
      joined += (joined.empty() ? "" : ",") + s;
    set("cluster-seeds", src.contains("router") ? "router" : "cluster.routes", joined);
  }

  // -- old hmq ACL keys --
  if (auto it = src.find("aclConf"); it != src.end()) {
    bool enabled = true;
    if (auto a = src.find("acl"); a != src.end()) {
      auto b = bool_value("acl", *a, error);
      if (!error.empty())
        return false;
      enabled = b.value_or(true);
    }
    auto t = text_value("aclConf", *it, error);
    if (!error.empty())
      return false;
    if (t && enabled)
      set("acl-file", "aclConf", *t);
    else if (t)
      warn_ignored("aclConf", "'acl' is false");
  } else if (auto a = src.find("acl"); a != src.end()) {
    auto b = bool_value("acl", *a, error);
    if (!error.empty())
      return false;
    if (b.value_or(false))
      warn_ignored("acl", "no 'aclConf' given; use 'acl-file'");
  }

  // -- without meaning in Colony --
  if (auto it = src.find("workerNum"); it != src.end()) {
    auto n = int_value("workerNum", *it, error);
    if (!error.empty())
      return false;
    if (n)
      warn_ignored("workerNum", "Colony sizes its worker pool with 'worker-threads'");
  }
  if (auto it = src.find("plugins"); it != src.end()) {
    if (!it->is_object()) {
      error = "config key 'plugins': value " + quoted(*it) + " is not an object";
      return false;
    }
    for (auto& [sub, value] : it->items()) {
      std::string name = "plugins." + sub;
      if (value.is_string() && value.get<std::string>().empty())
        continue;
      if (sub == "auth")
        warn_ignored(name, "use 'password-file', 'acl-file', 'auth-http-url' or "
                           "'acl-http-url' instead of hmq's auth plugins");
      else if (sub == "bridge")
        warn_ignored(name, "Colony has no message bridges");
      else
        warn_ignored(name, "Colony has no plugins");
    }
  }
  return true;
}

} // namespace colony::config::hmq
