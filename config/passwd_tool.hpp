// `colony passwd`: creates, updates and deletes entries of a Mosquitto-compatible password
// file (see password_file.hpp), with mosquitto_passwd's options:
//
//   colony passwd [-c] FILE USER              password from the terminal (asked twice, no echo),
//                                             or one line of standard input when not a terminal
//   colony passwd [-c] -b FILE USER PASSWORD  batch mode
//   colony passwd -D FILE USER                delete USER
//
// --scram-sha-256 (or -H scram-sha-256) writes a `$scram-sha-256$` entry instead of `$7$`.
//
// -c starts a new file (overwriting FILE). The file is written atomically with mode 0600.
// Exit status: 0 done, 1 failed (unreadable or broken file, unknown user, ...), 2 usage error.
#pragma once

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace colony::config {

struct passwd_io {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  bool interactive = false; ///< standard input is a terminal
  /// Shows `prompt` and reads a line without echo (terminal only); nullopt on EOF or error.
  std::function<std::optional<std::string>(const std::string& prompt)> read_secret;
};

/// Runs the tool; `args` are the words after "passwd".
int run_passwd(const std::vector<std::string>& args, passwd_io& io);

/// Entry point for `colony passwd ...`: argv[0] is "passwd". Uses the real standard streams
/// and the terminal.
int passwd_main(int argc, const char* const* argv);

} // namespace colony::config
