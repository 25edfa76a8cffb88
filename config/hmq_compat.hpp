// Compatibility with hmq (github.com/fhmq/hmq) configurations: its Go-style command-line flags
// and its camelCase JSON keys are rewritten to Colony's kebab-case settings before the normal
// parser sees them. Settings that have no meaning in Colony produce exactly one warning naming
// the flag or key; bad values are errors naming the key and the value.
//
// Flags (single or double dash, "-flag value" or "-flag=value"):
//   -p/-port -> --port        -host -> --host             -ws/-wsport -> --ws-port
//   -wsp/-wspath -> --ws-path -hp/-httpport -> --http-port -c/-config -> --config
//   -cp/-clusterport -> --cluster-port                     -r/-router -> --cluster-seeds
//   -d/-debug/-D -> --log-level=debug (unless --log-level is given)
//   -w/-worker -> ignored (one warning)                    -h/-help -> --help
//
// JSON keys: port, host, tlsPort, tlsInfo{verify, caFile, certFile, keyFile}, wsPort, wsPath,
// wsTLS (wsPort becomes the WebSocket-over-TLS port), httpPort, debug, cluster{port, routes},
// router, aclConf (with acl) are mapped; tlsHost, cluster.host, workerNum, plugins.auth and
// plugins.bridge are ignored with a warning. hmq wrote numbers as strings ("port": "1883"):
// numeric strings are accepted for these keys; "" means "not set".
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace colony::config::hmq {

/// Describes Colony's long options: nullopt if `--name` is not one, else whether it consumes
/// the next argument as its value.
using colony_option_fn = std::function<std::optional<bool>(std::string_view name)>;

/// Rewrites hmq flags in `args` (without the program name). Colony's own `--name` options are
/// kept as they are, with their values (a value is never mistaken for a flag). Warnings are
/// appended to `warnings`.
std::vector<std::string> translate_args(const std::vector<std::string>& args,
                                        const colony_option_fn& colony_option,
                                        std::vector<std::string>& warnings);

/// Rewrites hmq keys of a configuration object in place into Colony keys. Colony keys already
/// in `doc` win over the hmq keys that map to them (with a warning). Returns false and sets
/// `error` (naming the key and the value) on a bad value.
bool translate_json(nlohmann::json& doc, std::vector<std::string>& warnings, std::string& error);

/// True if `key` is one of hmq's top-level JSON keys that Colony does not share.
bool is_hmq_key(std::string_view key);

} // namespace colony::config::hmq
