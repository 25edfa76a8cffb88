#include "config/passwd_tool.hpp"

#include "config/password_file.hpp"

#include <openssl/crypto.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include <termios.h>
#include <unistd.h>

namespace colony::config {

namespace {

constexpr const char* usage_text =
  "Usage: colony passwd [-c] FILE USER              (password from the terminal or stdin)\n"
  "       colony passwd [-c] -b FILE USER PASSWORD  (batch mode)\n"
  "       colony passwd -D FILE USER                (delete USER)\n"
  "\n"
  "Manages a Mosquitto-compatible password file (PBKDF2-HMAC-SHA512, as mosquitto_passwd).\n"
  " -b : take the password from the command line.\n"
  " --scram-sha-256 (or -H scram-sha-256) : write a $scram-sha-256$ entry (SCRAM-SHA-256\n"
  "      enhanced authentication and plain passwords; not readable by mosquitto).\n"
  "      The default $7$ entry serves plain passwords and SCRAM-SHA-512.\n"
  " -c : create a new file, overwriting FILE if it exists.\n"
  " -D : delete USER.\n";

int usage(passwd_io& io, const std::string& problem) {
  if (!problem.empty())
    io.err << "colony passwd: " << problem << "\n";
  io.err << usage_text;
  return 2;
}

void wipe(std::string& s) {
  if (!s.empty())
    OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

/// Reads the password: twice without echo on a terminal, else one line of `in`.
std::optional<std::string> obtain_password(passwd_io& io) {
  if (io.interactive && io.read_secret) {
    auto first = io.read_secret("Password: ");
    if (!first) {
      io.err << "colony passwd: no password given\n";
      return std::nullopt;
    }
    auto second = io.read_secret("Reenter password: ");
    if (!second || *first != *second) {
      io.err << "colony passwd: passwords do not match\n";
      wipe(*first);
      if (second)
        wipe(*second);
      return std::nullopt;
    }
    wipe(*second);
    return first;
  }
  std::string line;
  if (!std::getline(io.in, line)) {
    io.err << "colony passwd: no password on standard input\n";
    return std::nullopt;
  }
  if (!line.empty() && line.back() == '\r')
    line.pop_back();
  return line;
}

std::optional<std::string> read_whole(const std::string& path, bool& missing,
                                      std::string& error) {
  missing = false;
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    if (errno == ENOENT) {
      missing = true;
      return std::string{};
    }
    error = "cannot read '" + path + "': " + std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::optional<std::string> terminal_secret(const std::string& prompt) {
  std::cerr << prompt << std::flush;
  termios old{};
  bool restore = false;
  if (::tcgetattr(STDIN_FILENO, &old) == 0) {
    termios quiet = old;
    quiet.c_lflag &= static_cast<tcflag_t>(~ECHO);
    quiet.c_lflag |= ECHONL;
    restore = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
  }
  std::string line;
  bool ok = static_cast<bool>(std::getline(std::cin, line));
  if (restore)
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
  if (!ok)
    return std::nullopt;
  if (!line.empty() && line.back() == '\r')
    line.pop_back();
  return line;
}

} // namespace

int run_passwd(const std::vector<std::string>& args, passwd_io& io) {
  bool batch = false;
  bool create = false;
  bool remove = false;
  bool scram256 = false;
  std::vector<std::string> positional;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "-h" || a == "--help") {
      io.out << usage_text;
      return 0;
    }
    if (a == "-b")
      batch = true;
    else if (a == "-c")
      create = true;
    else if (a == "-D")
      remove = true;
    else if (a == "--scram-sha-256")
      scram256 = true;
    else if (a == "-H") {
      if (i + 1 >= args.size())
        return usage(io, "-H needs a value");
      const auto& h = args[++i];
      if (h == "scram-sha-256")
        scram256 = true;
      else if (h == "sha512-pbkdf2")
        scram256 = false;
      else
        return usage(io, "-H takes 'sha512-pbkdf2' (the default) or 'scram-sha-256'");
    } else if (a.size() > 1 && a[0] == '-' && positional.empty())
      return usage(io, "unknown option '" + a + "'");
    else
      positional.push_back(a);
  }
  if (remove && (batch || create || scram256))
    return usage(io, "-D cannot be combined with -b, -c or --scram-sha-256");
  std::size_t wanted = batch ? 3 : 2;
  if (positional.size() != wanted)
    return usage(io, "expected " + std::string{batch ? "FILE USER PASSWORD" : "FILE USER"});
  const std::string& file = positional[0];
  const std::string& user = positional[1];
  if (!valid_password_user(user))
    return usage(io, "invalid user name (empty, or contains ':' or control characters)");

  std::string text;
  if (!create) {
    bool missing = false;
    std::string error;
    auto current = read_whole(file, missing, error);
    if (!current) {
      io.err << "colony passwd: " << error << "\n";
      return 1;
    }
    if (missing && remove) {
      io.err << "colony passwd: '" << file << "' does not exist\n";
      return 1;
    }
    if (!missing) {
      auto check = password_db::parse(*current, file);
      if (!check) {
        io.err << "colony passwd: " << check.error().to_string()
               << " (fix the file, or start a new one with -c)\n";
        return 1;
      }
    }
    text = std::move(*current);
  }

  if (remove) {
    bool found = false;
    text = remove_entry(text, user, found);
    if (!found) {
      io.err << "colony passwd: user '" << user << "' is not in '" << file << "'\n";
      return 1;
    }
  } else {
    std::optional<std::string> password;
    if (batch)
      password = positional[2];
    else
      password = obtain_password(io);
    if (!password)
      return 1;
    if (password->empty()) {
      io.err << "colony passwd: empty password\n";
      return 1;
    }
    if (password->find('\n') != std::string::npos) {
      wipe(*password);
      io.err << "colony passwd: the password contains a newline\n";
      return 1;
    }
    std::string entry =
      scram256 ? make_scram_sha256_entry(user, *password) : make_entry(user, *password);
    wipe(*password);
    text = upsert_entry(text, user, entry);
  }
  std::string error;
  if (!write_file_atomically(file, text, error)) {
    io.err << "colony passwd: " << error << "\n";
    return 1;
  }
  return 0;
}

int passwd_main(int argc, const char* const* argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i)
    args.emplace_back(argv[i]);
  passwd_io io{std::cin, std::cout, std::cerr, ::isatty(STDIN_FILENO) == 1, terminal_secret};
  return run_passwd(args, io);
}

} // namespace colony::config
