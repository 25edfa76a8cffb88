// load_result<T>: a loaded file (password file, ACL) or the error that explains why there is
// none, with the file name and the 1-based line number when one line is to blame.
#pragma once

#include <cassert>
#include <cstddef>
#include <string>
#include <utility>
#include <variant>

namespace colony::config {

struct load_error {
  std::string file;     ///< path (or a name such as "<memory>")
  std::size_t line = 0; ///< 1-based; 0 = the file as a whole (cannot read it, ...)
  std::string message;

  /// "FILE:LINE: MESSAGE", or "FILE: MESSAGE" when no line is to blame.
  std::string to_string() const {
    std::string s = file;
    if (line > 0)
      s += ":" + std::to_string(line);
    s += ": ";
    s += message;
    return s;
  }
  friend bool operator==(const load_error&, const load_error&) = default;
};

/// Holds either a T or a load_error (never both). Must be checked before use.
template <class T>
class [[nodiscard]] load_result {
public:
  load_result(T value) : data_(std::move(value)) {}
  load_result(load_error e) : data_(std::move(e)) {}

  bool has_value() const noexcept { return data_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & {
    assert(has_value());
    return std::get<0>(data_);
  }
  const T& value() const& {
    assert(has_value());
    return std::get<0>(data_);
  }
  T&& value() && {
    assert(has_value());
    return std::get<0>(std::move(data_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const load_error& error() const {
    assert(!has_value());
    return std::get<1>(data_);
  }

private:
  std::variant<T, load_error> data_;
};

} // namespace colony::config
