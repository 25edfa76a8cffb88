#include "actors/sys_publisher.hpp"

#include "actors/mailbox_sampler.hpp"
#include "actors/topic_shard.hpp"
#include "metrics/stats.hpp"

#include <chrono>

namespace colony::actors {

namespace {

struct sys_state {
  static inline const char* name = "sys_publisher";
  sys_args args;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::uint32_t mailbox_tick = 0;
};

using sys_actor = caf::stateful_actor<sys_state>;

void publish_stats(sys_actor* self) {
  auto& st = self->state;
  auto& s = metrics::stats();
  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                  std::chrono::steady_clock::now() - st.started)
                  .count();
  std::vector<std::pair<std::string, std::string>> values = {
    {"$SYS/broker/version", "colony " + st.args.version},
    {"$SYS/broker/uptime", std::to_string(uptime) + " seconds"},
    {"$SYS/broker/clients/connected", std::to_string(s.clients_connected.get())},
    {"$SYS/broker/clients/total", std::to_string(s.clients_total.get())},
    {"$SYS/broker/clients/disconnected",
     std::to_string(s.clients_total.get() - std::min(s.clients_total.get(),
                                                     s.clients_connected.get()))},
    {"$SYS/broker/messages/received", std::to_string(s.messages_received.get())},
    {"$SYS/broker/messages/sent", std::to_string(s.messages_sent.get())},
    {"$SYS/broker/messages/dropped", std::to_string(s.publish_dropped.get())},
    {"$SYS/broker/bytes/received", std::to_string(metrics::bytes_read_total())},
    {"$SYS/broker/bytes/sent", std::to_string(s.bytes_sent.get())},
    {"$SYS/broker/subscriptions/count", std::to_string(s.subscriptions.get())},
    {"$SYS/broker/retained messages/count", std::to_string(s.retained_messages.get())},
  };
  // All $SYS topics share the first level, hence one shard and one batch.
  publish_batch batch;
  for (auto& [topic, payload] : values) {
    auto msg = std::make_shared<app_message>();
    msg->topic = topic;
    msg->payload = payload;
    msg->retain = true;
    batch.msgs.push_back(std::move(msg));
  }
  auto& shards = *st.args.shards;
  self->send(shards[shard_of("$SYS", shards.size())], route_atom::value, std::move(batch));
}

caf::behavior sys_behavior(sys_actor* self, sys_args args) {
  self->state.args = std::move(args);
  self->send(self, tick_atom::value);
  return {
    [=](tick_atom) {
      sample_mailbox(self, self->state.mailbox_tick, metrics::actor_kind::sys, 1);
      publish_stats(self);
      self->delayed_send(self, self->state.args.interval, tick_atom::value);
    },
  };
}

} // namespace

caf::actor spawn_sys_publisher(caf::actor_system& sys, sys_args args) {
  return sys.spawn(sys_behavior, std::move(args));
}

} // namespace colony::actors
