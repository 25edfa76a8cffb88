// read_buffer: the bytes a link has read and not yet decoded. It owns memory only while it
// holds bytes, so an idle connection costs no buffer at all (10,000 idle connections with a
// 4 KB buffer each were 40 MB, most of the broker's memory). It starts at `initial` bytes,
// doubles only when one incomplete packet fills it (bounded by `max`, which the caller sets from
// the packet size limit), and goes back to nothing (release_if_empty) or to `initial`
// (shrink) once drained.
//
// Buffers of the common size (`initial`) come from a small per-thread stock of free blocks: a
// link takes one for each read and gives it back when the socket is empty, and an allocator
// would otherwise see a 4 KB malloc/free per read — past its small-object caches, and on a
// connect, a freed block that long-lived objects split up, so the next one grows the heap.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace colony::transport {

namespace detail {

/// Free blocks of one size, per thread (the size of the first block given back).
class block_stock {
public:
  static constexpr std::size_t capacity = 32;

  static std::uint8_t* take(std::size_t n) {
    auto& s = mine();
    if (s.count_ > 0 && s.size_ == n)
      return s.blocks_[--s.count_];
    return new std::uint8_t[n];
  }

  static void give(std::uint8_t* p, std::size_t n) noexcept {
    auto& s = mine();
    if (s.count_ == 0)
      s.size_ = n;
    if (s.size_ == n && s.count_ < capacity)
      s.blocks_[s.count_++] = p;
    else
      delete[] p;
  }

  /// Blocks held by the calling thread (tests).
  static std::size_t held() noexcept { return mine().count_; }

  ~block_stock() {
    for (std::size_t i = 0; i < count_; ++i)
      delete[] blocks_[i];
  }

private:
  static block_stock& mine() noexcept {
    thread_local block_stock stock;
    return stock;
  }

  std::uint8_t* blocks_[capacity] = {};
  std::size_t count_ = 0;
  std::size_t size_ = 0;
};

} // namespace detail

class read_buffer {
public:
  /// `initial`: bytes allocated for the first read; `max`: largest size it grows to.
  read_buffer(std::size_t initial, std::size_t max) noexcept
    : initial_(std::max<std::size_t>(initial, 1)), max_(std::max(max, initial_)) {}
  ~read_buffer() { free_data(); }
  read_buffer(const read_buffer&) = delete;
  read_buffer& operator=(const read_buffer&) = delete;

  /// Space for the next read: never empty. Allocates `initial` bytes if nothing is held;
  /// when the end is reached, moves the unread bytes to the front, or, if they already start
  /// there (one packet bigger than the buffer), doubles the buffer up to `max` (and beyond by
  /// a few bytes only when asked past `max`, which the decoder's size check prevents).
  std::span<std::uint8_t> prepare() {
    if (!data_) {
      allocate(initial_);
    } else if (end_ == capacity_) {
      if (begin_ > 0) {
        compact();
      } else {
        auto next = std::min(capacity_ * 2, max_);
        reallocate(next > capacity_ ? next : capacity_ + 8);
      }
    }
    return {data_ + end_, capacity_ - end_};
  }

  /// `n` bytes were written into the span prepare() returned.
  void commit(std::size_t n) noexcept { end_ += std::min(n, capacity_ - end_); }

  /// The unread bytes.
  std::span<const std::uint8_t> data() const noexcept {
    return {data_ + begin_, end_ - begin_};
  }

  /// `n` bytes were decoded. When nothing is left, the next read starts at the front again;
  /// when more than half of the buffer is consumed, the rest moves to the front.
  void consume(std::size_t n) noexcept {
    begin_ += std::min(n, end_ - begin_);
    if (begin_ == end_) {
      begin_ = end_ = 0;
    } else if (begin_ > capacity_ / 2) {
      compact();
    }
  }

  std::size_t size() const noexcept { return end_ - begin_; }
  bool empty() const noexcept { return begin_ == end_; }
  /// Bytes allocated (0 when nothing is held).
  std::size_t capacity() const noexcept { return capacity_; }

  /// Frees the memory when no byte is held (the link is idle). Not while a read is pending
  /// into prepare()'s span.
  void release_if_empty() noexcept {
    if (empty() && data_) {
      free_data();
      capacity_ = begin_ = end_ = 0;
    }
  }

  /// After a large packet: back to `initial` bytes when what is held fits (capacity more than
  /// 4 x initial). Not while a read is pending.
  void shrink() {
    if (capacity_ > initial_ * 4 && size() <= initial_)
      reallocate(initial_);
  }

private:
  std::uint8_t* new_block(std::size_t n) const {
    return n == initial_ ? detail::block_stock::take(n) : new std::uint8_t[n];
  }

  void free_data() noexcept {
    if (!data_)
      return;
    if (capacity_ == initial_)
      detail::block_stock::give(data_, capacity_);
    else
      delete[] data_;
    data_ = nullptr;
  }

  void allocate(std::size_t n) {
    data_ = new_block(n);
    capacity_ = n;
    begin_ = end_ = 0;
  }

  void reallocate(std::size_t n) {
    auto* fresh = new_block(n);
    auto held = size();
    if (held > 0)
      std::memcpy(fresh, data_ + begin_, held);
    free_data();
    data_ = fresh;
    capacity_ = n;
    begin_ = 0;
    end_ = held;
  }

  void compact() noexcept {
    auto held = size();
    if (held > 0 && begin_ > 0)
      std::memmove(data_, data_ + begin_, held);
    begin_ = 0;
    end_ = held;
  }

  std::size_t initial_;
  std::size_t max_;
  std::uint8_t* data_ = nullptr; ///< from new_block(capacity_)
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

} // namespace colony::transport
