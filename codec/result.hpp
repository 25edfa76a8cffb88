// result<T>: a value or the MQTT reason code that explains why there is none.
// One small expected-like type used across the codec and the protocol classes.
#pragma once

#include "reason_code.hpp"

#include <cassert>
#include <utility>
#include <variant>

namespace colony::codec {

/// Holds either a T or a reason_code (never both). Must be checked before use.
template <class T>
class [[nodiscard]] result {
public:
  result(T value) : data_(std::move(value)) {}
  result(reason_code rc) : data_(rc) {}

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

  reason_code error() const noexcept {
    assert(!has_value());
    return std::get<1>(data_);
  }

private:
  std::variant<T, reason_code> data_;
};

} // namespace colony::codec
