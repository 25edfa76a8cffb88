// The persistent store: RocksDB (write-ahead log + SST files) in --data-dir, written by one
// writer thread that group-commits whatever the actors submitted meanwhile (one WriteBatch,
// one fsync in sync mode, however many clients), then runs their completion callbacks.
#pragma once

#include "persistence/records.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace rocksdb {
class DB;
}

namespace colony::persistence {

enum class durability : std::uint8_t {
  off,   ///< nothing is written
  async, ///< written at once, fsynced at least every interval (survives a process crash)
  sync,  ///< acknowledgements wait until the write is fsynced (survives a power loss)
};

/// Parses "off", "async", "sync".
std::optional<durability> parse_durability(std::string_view s);

/// Writes and deletes applied together, in order.
class batch {
public:
  void put(std::string key, std::string value) {
    ops_.push_back({op_kind::put, std::move(key), std::move(value)});
  }
  /// A put of a key that does not exist yet (a new queue entry): if it is erased before the
  /// writer gets to it, neither is written (an online client acknowledged it in time).
  void insert(std::string key, std::string value) {
    ops_.push_back({op_kind::insert, std::move(key), std::move(value)});
  }
  void erase(std::string key) { ops_.push_back({op_kind::erase, std::move(key), {}}); }
  /// Deletes every key in [begin, end).
  void erase_range(std::string begin, std::string end) {
    ops_.push_back({op_kind::erase_range, std::move(begin), std::move(end)});
  }
  bool empty() const noexcept { return ops_.empty(); }
  std::size_t size() const noexcept { return ops_.size(); }
  void append(batch&& other) {
    for (auto& op : other.ops_)
      ops_.push_back(std::move(op));
    other.ops_.clear();
  }

private:
  friend class store;
  enum class op_kind : std::uint8_t { put, insert, erase, erase_range, cancelled };
  struct op {
    op_kind kind;
    std::string a;
    std::string b;
  };
  std::vector<op> ops_;
};

/// Everything read back at start.
struct loaded_state {
  std::vector<stored_session> sessions;
  /// Per client id, sorted by seq.
  std::unordered_map<std::string, std::vector<stored_entry>> entries;
  std::unordered_map<std::string, std::vector<std::uint16_t>> inbound;
  /// Per client id: seqs of the entries beyond the load limit, left in the store.
  std::unordered_map<std::string, std::vector<std::uint64_t>> spilled;
  std::vector<stored_message> retained;
  /// Wall-clock ms of the last heartbeat before the broker stopped (0 if none).
  std::int64_t last_alive_ms = 0;
  /// Records that did not decode (dropped, and deleted from the store).
  std::size_t dropped = 0;
};

/// What opening the store had to do.
struct open_report {
  bool repaired = false;          ///< RocksDB's repair ran
  std::string moved_aside_to;     ///< a store that could not be repaired was renamed to this
  std::vector<std::string> notes; ///< what went wrong, for the log
};

class store {
public:
  /// Opens (creating if needed) the store in `dir`. A damaged store is repaired, or moved
  /// aside and started afresh; only an unusable directory (or one locked by another process)
  /// is an error, reported by throwing std::runtime_error.
  static std::unique_ptr<store> open(const std::string& dir, durability mode,
                                     std::chrono::milliseconds flush_interval);

  /// What opening and loading had to repair (read it after load()).
  const open_report& report() const noexcept { return report_; }

  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  /// Reads every record (before the broker serves), at most `max_entries` queue entries per
  /// client (the seqs of the rest are in loaded_state::spilled). Undecodable records are
  /// dropped.
  loaded_state load(std::size_t max_entries = static_cast<std::size_t>(-1));

  /// Applies `b` after everything submitted before it. `done` runs on the writer thread once
  /// the batch is applied (and, in sync mode, fsynced). Thread-safe.
  void submit(batch b, std::function<void()> done = {});

  /// The entries of one client with these seqs (nullopt where there is none, or it does not
  /// decode).
  std::vector<std::optional<stored_entry>> get_entries(std::string_view client_id,
                                                        const std::vector<std::uint64_t>& seqs);

  /// Outbound entries of one client with seq >= from, at most `max`, in seq order.
  std::vector<stored_entry> read_entries(std::string_view client_id, std::uint64_t from,
                                         std::size_t max);

  /// A new queue sequence number (unique and increasing across restarts).
  std::uint64_t next_seq() noexcept { return seq_.fetch_add(1, std::memory_order_relaxed); }

  durability mode() const noexcept { return mode_; }

  /// Writes what is pending, fsyncs and stops the writer. Called by the destructor.
  void close();

  /// Batches committed and fsyncs done so far (for metrics and tests of group commit).
  std::uint64_t commits() const noexcept { return commits_.load(std::memory_order_relaxed); }
  std::uint64_t syncs() const noexcept { return syncs_.load(std::memory_order_relaxed); }
  /// Inserts that were erased before they were written (neither was written).
  std::uint64_t cancelled() const noexcept { return cancelled_.load(std::memory_order_relaxed); }

private:
  store(std::unique_ptr<rocksdb::DB> db, durability mode, std::chrono::milliseconds interval);
  void run();

  std::unique_ptr<rocksdb::DB> db_;
  std::string dir_;
  open_report report_;
  durability mode_;
  std::chrono::milliseconds interval_;
  std::atomic<std::uint64_t> seq_{1};
  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> syncs_{0};
  std::atomic<std::uint64_t> cancelled_{0};

  std::mutex mtx_;
  std::condition_variable cv_;
  struct pending {
    batch b;
    std::function<void()> done;
  };
  std::vector<pending> queue_;
  bool stopping_ = false;
  bool writer_idle_ = false;
  std::thread writer_;
};

} // namespace colony::persistence
