// colony: the program. Parses the configuration, wires transport, actors and metrics together,
// and runs until SIGINT or SIGTERM, then drains and exits 0.
#include "server/broker.hpp"

#include "config/passwd_tool.hpp"
#include "config/settings.hpp"

#include <csignal>
#include <cstring>
#include <pthread.h>

int main(int argc, char** argv) {
  // `colony passwd ...` manages a password file and exits (before the signal mask, so Ctrl-C
  // works at its password prompt).
  if (argc >= 2 && std::strcmp(argv[1], "passwd") == 0)
    return colony::config::passwd_main(argc - 1, argv + 1);

  // Block the signals we handle before any thread starts, so only sigwait() sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto parsed = colony::config::parse(argc, argv);
  if (!parsed.run)
    return parsed.exit_code;
  colony::server::broker b{parsed.value};
  if (!b.start())
    return 1;
  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0)
      continue;
    if (sig == SIGHUP) {
      b.reload();
      continue;
    }
    break;
  }
  b.stop();
  return 0;
}
