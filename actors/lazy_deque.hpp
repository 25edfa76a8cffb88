// lazy_deque: a std::deque that allocates only while it holds elements. An empty libstdc++
// deque still owns a 512-byte node and its map (~600 bytes); a session's queue of pending
// deliveries is empty almost always, and there is one per session (10,000 idle clients: 6 MB).
#pragma once

#include <cstddef>
#include <deque>
#include <memory>

namespace colony::actors {

template <class T>
class lazy_deque {
public:
  using container = std::deque<T>;
  using iterator = typename container::iterator;
  using const_iterator = typename container::const_iterator;

  bool empty() const noexcept { return !q_ || q_->empty(); }
  std::size_t size() const noexcept { return q_ ? q_->size() : 0; }

  iterator begin() { return q_ ? q_->begin() : none().begin(); }
  iterator end() { return q_ ? q_->end() : none().end(); }
  const_iterator begin() const { return q_ ? q_->cbegin() : none().cbegin(); }
  const_iterator end() const { return q_ ? q_->cend() : none().cend(); }

  T& front() { return q_->front(); }
  const T& front() const { return q_->front(); }

  void push_back(T x) {
    if (!q_)
      q_ = std::make_unique<container>();
    q_->push_back(std::move(x));
  }

  /// Frees the storage when the last element goes.
  void pop_front() {
    q_->pop_front();
    if (q_->empty())
      q_.reset();
  }

  /// Iterators stay valid (the storage is kept even if this empties it).
  iterator erase(iterator it) { return q_->erase(it); }

  void clear() noexcept { q_.reset(); }

private:
  /// What an empty lazy_deque iterates: shared, never modified.
  static container& none() {
    static container empty;
    return empty;
  }

  std::unique_ptr<container> q_;
};

} // namespace colony::actors
