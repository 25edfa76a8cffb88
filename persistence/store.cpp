#include "persistence/store.hpp"

#include "metrics/log.hpp"
#include "metrics/stats.hpp"

#include <rocksdb/db.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

namespace colony::persistence {

namespace fs = std::filesystem;

std::optional<durability> parse_durability(std::string_view s) {
  if (s == "off")
    return durability::off;
  if (s == "async")
    return durability::async;
  if (s == "sync")
    return durability::sync;
  return std::nullopt;
}

namespace {

std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

rocksdb::Options db_options() {
  rocksdb::Options o;
  o.create_if_missing = true;
  // A torn write at the end of the log (a crash mid-write) loses only that write.
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  o.paranoid_checks = true;
  o.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  o.keep_log_file_num = 2;
  o.max_log_file_size = 1 << 20;
  o.max_total_wal_size = 64 << 20;
  o.write_buffer_size = 32 << 20;
  o.IncreaseParallelism(2);
  // Queue entries are written once, deleted once, and read back only at start or when a
  // queue spilled out of memory: an append-only memtable (sorted when it is flushed) makes a
  // write cost no key comparisons, where a skip list costs ~20 per write.
  o.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
  o.allow_concurrent_memtable_write = false;
  return o;
}

std::unique_ptr<rocksdb::DB> try_open(const std::string& dir, rocksdb::Status& s) {
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::Open(db_options(), dir, &raw);
  return std::unique_ptr<rocksdb::DB>{s.ok() ? raw : nullptr};
}

bool is_lock_error(const rocksdb::Status& s) {
  return s.IsIOError() && s.ToString().find("lock") != std::string::npos;
}

/// Moves a store that cannot be opened out of the way (kept for forensics) and returns where.
std::string move_aside(const std::string& dir) {
  auto target = dir + ".damaged-" + std::to_string(wall_ms());
  std::error_code ec;
  fs::rename(dir, target, ec);
  if (ec)
    throw std::runtime_error("cannot move the damaged store '" + dir + "' aside: " + ec.message());
  return target;
}

/// Opens `dir`; repairs it, or moves it aside, when it is damaged.
std::unique_ptr<rocksdb::DB> open_or_recover(const std::string& dir, open_report& report) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    throw std::runtime_error("cannot create data directory '" + dir + "': " + ec.message());
  rocksdb::Status s;
  auto db = try_open(dir, s);
  if (db)
    return db;
  if (is_lock_error(s))
    throw std::runtime_error("the store in '" + dir + "' is in use by another process ("
                             + s.ToString() + ")");
  report.notes.push_back("open failed: " + s.ToString());
  auto repaired = rocksdb::RepairDB(dir, db_options());
  report.repaired = true;
  if (repaired.ok()) {
    db = try_open(dir, s);
    if (db)
      return db;
    report.notes.push_back("open after repair failed: " + s.ToString());
  } else {
    report.notes.push_back("repair failed: " + repaired.ToString());
  }
  report.moved_aside_to = move_aside(dir);
  fs::create_directories(dir, ec);
  db = try_open(dir, s);
  if (!db)
    throw std::runtime_error("cannot open a new store in '" + dir + "': " + s.ToString());
  return db;
}

/// Reads every record into `out`; false if the scan itself failed (corruption).
bool scan(rocksdb::DB& db, loaded_state& out, std::vector<std::string>& bad_keys,
          std::uint64_t& max_seq, std::string& error, std::size_t max_entries) {
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it{db.NewIterator(ro)};
  std::string client;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto key = std::string_view{it->key().data(), it->key().size()};
    auto value = std::string_view{it->value().data(), it->value().size()};
    bool ok = false;
    if (key.size() >= 2 && key[1] == '\0') {
      switch (key[0]) {
        case 's': {
          stored_session s;
          if (decode(value, s)) {
            s.client_id.assign(key.substr(2));
            out.sessions.push_back(std::move(s));
            ok = true;
          }
          break;
        }
        case 'q': {
          stored_entry e;
          if (!parse_entry_key(key, client, e.seq))
            break;
          max_seq = std::max(max_seq, e.seq);
          if (auto& list = out.entries[client]; list.size() >= max_entries) {
            // Keys sort by seq within a client: the first ones are the oldest.
            out.spilled[client].push_back(e.seq);
            ok = true;
          } else if (decode(value, e)) {
            list.push_back(std::move(e));
            ok = true;
          }
          break;
        }
        case 'i': {
          std::uint16_t id = 0;
          if (parse_inbound_key(key, client, id)) {
            out.inbound[client].push_back(id);
            ok = true;
          }
          break;
        }
        case 'r': {
          stored_message m;
          if (decode(value, m) && m.topic == key.substr(2)) {
            out.retained.push_back(std::move(m));
            ok = true;
          }
          break;
        }
        case 'm':
          ok = key == alive_key && decode_i64(value, out.last_alive_ms);
          break;
        default:
          break;
      }
    }
    if (!ok) {
      ++out.dropped;
      bad_keys.emplace_back(key);
    }
  }
  if (!it->status().ok()) {
    error = it->status().ToString();
    return false;
  }
  return true;
}

} // namespace

std::unique_ptr<store> store::open(const std::string& dir, durability mode,
                                   std::chrono::milliseconds flush_interval) {
  open_report report;
  auto db = open_or_recover(dir, report);
  auto s = std::unique_ptr<store>{new store(std::move(db), mode, flush_interval)};
  s->dir_ = dir;
  s->report_ = std::move(report);
  return s;
}

store::store(std::unique_ptr<rocksdb::DB> db, durability mode, std::chrono::milliseconds interval)
  : db_(std::move(db)), mode_(mode), interval_(interval) {}

store::~store() {
  close();
}

loaded_state store::load(std::size_t max_entries) {
  loaded_state out;
  std::vector<std::string> bad_keys;
  std::uint64_t max_seq = 0;
  std::string error;
  for (int attempt = 0;; ++attempt) {
    out = loaded_state{};
    bad_keys.clear();
    max_seq = 0;
    if (scan(*db_, out, bad_keys, max_seq, error, max_entries))
      break;
    // A damaged file that opening did not notice: repair once, then give up on the old store.
    report_.notes.push_back("reading the store failed: " + error);
    db_.reset();
    if (attempt == 0) {
      report_.repaired = true;
      auto repaired = rocksdb::RepairDB(dir_, db_options());
      if (!repaired.ok())
        report_.notes.push_back("repair failed: " + repaired.ToString());
      rocksdb::Status s;
      db_ = try_open(dir_, s);
      if (db_)
        continue;
      report_.notes.push_back("open after repair failed: " + s.ToString());
    }
    report_.moved_aside_to = move_aside(dir_);
    rocksdb::Status s;
    db_ = open_or_recover(dir_, report_);
    out = loaded_state{};
    bad_keys.clear();
    max_seq = 0;
    break;
  }
  for (auto& [client, list] : out.entries)
    std::sort(list.begin(), list.end(),
              [](const stored_entry& a, const stored_entry& b) { return a.seq < b.seq; });
  seq_.store(max_seq + 1, std::memory_order_relaxed);
  if (!bad_keys.empty()) {
    batch b;
    for (auto& k : bad_keys)
      b.erase(std::move(k));
    submit(std::move(b));
  }
  if (!writer_.joinable())
    writer_ = std::thread{[this] { run(); }};
  return out;
}

void store::submit(batch b, std::function<void()> done) {
  bool wake;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    queue_.push_back(pending{std::move(b), std::move(done)});
    // While the writer is busy (writing, fsyncing) it takes the whole queue next: no wake-up
    // call (a system call) per submission.
    wake = writer_idle_;
  }
  if (wake)
    cv_.notify_one();
}

std::vector<stored_entry> store::read_entries(std::string_view client_id, std::uint64_t from,
                                              std::size_t max) {
  std::vector<stored_entry> out;
  auto [begin, end] = entry_range(client_id);
  auto start = entry_key(client_id, from);
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper{end};
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro)};
  std::string client;
  for (it->Seek(start); it->Valid() && out.size() < max; it->Next()) {
    stored_entry e;
    auto key = std::string_view{it->key().data(), it->key().size()};
    auto value = std::string_view{it->value().data(), it->value().size()};
    if (parse_entry_key(key, client, e.seq) && client == client_id && decode(value, e))
      out.push_back(std::move(e));
  }
  return out;
}

std::vector<std::optional<stored_entry>>
store::get_entries(std::string_view client_id, const std::vector<std::uint64_t>& seqs) {
  // One iterator for all of them: with the append-only memtable, making an iterator sorts a
  // copy of the memtable once, and each Seek is then a binary search (a Get per key would
  // sort once per key).
  std::vector<std::optional<stored_entry>> out(seqs.size());
  auto [begin, end] = entry_range(client_id);
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper{end};
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro)};
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    auto key = entry_key(client_id, seqs[i]);
    it->Seek(key);
    if (!it->Valid() || it->key() != rocksdb::Slice{key})
      continue;
    stored_entry e;
    if (decode(std::string_view{it->value().data(), it->value().size()}, e)) {
      e.seq = seqs[i];
      out[i] = std::move(e);
    }
  }
  return out;
}

void store::run() {
  using clock = std::chrono::steady_clock;
  auto last_beat = clock::time_point{};
  auto last_sync = clock::now();
  bool unsynced = false;
  for (;;) {
    std::vector<pending> work;
    bool stop;
    {
      std::unique_lock<std::mutex> lock{mtx_};
      writer_idle_ = true;
      cv_.wait_for(lock, interval_, [this] { return stopping_ || !queue_.empty(); });
      writer_idle_ = false;
      work.swap(queue_);
      stop = stopping_;
    }
    // An insert erased later in the same group is never written, nor is its erase: with a
    // client online, most queue entries are acknowledged before the next group commit.
    std::unordered_map<std::string_view, batch::op*> fresh;
    std::uint64_t cancelled = 0;
    for (auto& p : work) {
      for (auto& op : p.b.ops_) {
        if (op.kind == batch::op_kind::insert) {
          fresh[op.a] = &op;
        } else if (op.kind == batch::op_kind::put || op.kind == batch::op_kind::erase) {
          auto it = fresh.find(op.a);
          if (it == fresh.end())
            continue;
          it->second->kind = batch::op_kind::cancelled;
          if (op.kind == batch::op_kind::put) {
            op.kind = batch::op_kind::insert; // an update of a new key is still new
            it->second = &op;
          } else {
            op.kind = batch::op_kind::cancelled;
            fresh.erase(it);
            ++cancelled;
          }
        }
      }
    }
    cancelled_.fetch_add(cancelled, std::memory_order_relaxed);
    metrics::stats().store_cancelled.add(cancelled);
    rocksdb::WriteBatch wb;
    for (auto& p : work) {
      for (auto& op : p.b.ops_) {
        switch (op.kind) {
          case batch::op_kind::put:
          case batch::op_kind::insert:
            wb.Put(op.a, op.b);
            break;
          case batch::op_kind::cancelled:
            break;
          case batch::op_kind::erase:
            wb.Delete(op.a);
            break;
          case batch::op_kind::erase_range:
            wb.DeleteRange(op.a, op.b);
            break;
        }
      }
    }
    auto now = clock::now();
    if (now - last_beat >= interval_) {
      // The heartbeat tells the next start how long the broker has been down.
      wb.Put(rocksdb::Slice{alive_key.data(), alive_key.size()}, encode_i64(wall_ms()));
      last_beat = now;
    }
    if (wb.Count() > 0) {
      rocksdb::WriteOptions wo;
      wo.sync = mode_ == durability::sync;
      auto s = db_->Write(wo, &wb);
      for (int retry = 0; !s.ok() && retry < 3; ++retry) {
        log::error("store", "write failed, retrying", {{"error", s.ToString()}});
        std::this_thread::sleep_for(std::chrono::milliseconds{50});
        s = db_->Write(wo, &wb);
      }
      if (!s.ok())
        log::error("store", "write failed: data may be lost", {{"error", s.ToString()},
                                                                {"operations", wb.Count()}});
      commits_.fetch_add(1, std::memory_order_relaxed);
      metrics::stats().store_commits.add();
      metrics::stats().store_writes.add(wb.Count());
      if (wo.sync) {
        syncs_.fetch_add(1, std::memory_order_relaxed);
        metrics::stats().store_syncs.add();
      } else {
        unsynced = true;
      }
    }
    if (unsynced && (stop || now - last_sync >= interval_)) {
      // async: the log reaches the disk at least every --persistence-interval.
      db_->SyncWAL();
      syncs_.fetch_add(1, std::memory_order_relaxed);
      metrics::stats().store_syncs.add();
      unsynced = false;
      last_sync = now;
    }
    for (auto& p : work)
      if (p.done)
        p.done();
    if (stop) {
      std::lock_guard<std::mutex> guard{mtx_};
      if (queue_.empty())
        return;
    }
  }
}

void store::close() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
  }
  cv_.notify_one();
  if (writer_.joinable())
    writer_.join();
  if (db_) {
    db_->SyncWAL();
    db_->Close();
    db_.reset();
  }
}

} // namespace colony::persistence
