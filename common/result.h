#pragma once
// Error values instead of exceptions (LevelDB's Status, std::expected's shape).
#include <cstdlib>
#include <iostream>
#include <string>
#include <utility>
#include <variant>

namespace mlb::common {

enum class ErrorCode { InvalidData, InvalidArgument, InvalidTemplate, Io, Unavailable, NotFound };

// An expected failure: what went wrong, with enough context (app id, path, host)
// for an operator to act on it.
struct Error {
  ErrorCode code = ErrorCode::InvalidData;
  std::string message;

  static Error invalidData(std::string m) { return {ErrorCode::InvalidData, std::move(m)}; }
  static Error invalidArgument(std::string m) { return {ErrorCode::InvalidArgument, std::move(m)}; }
  static Error invalidTemplate(std::string m) { return {ErrorCode::InvalidTemplate, std::move(m)}; }
  static Error io(std::string m) { return {ErrorCode::Io, std::move(m)}; }
  static Error notFound(std::string m) { return {ErrorCode::NotFound, std::move(m)}; }
};

// Result<T>: a value or an Error. API shaped like std::expected (absent in GCC 12).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Status: success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error e) : ok_(false), error_(std::move(e)) {}  // NOLINT(google-explicit-constructor)
  static Status ok() { return Status(); }
  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  bool ok_ = true;
  Error error_;
};

}  // namespace mlb::common

// A bug or an impossible state: abort with the location.
#define MLB_CHECK(cond)                                                              \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::cerr << __FILE__ << ":" << __LINE__ << ": MLB_CHECK failed: " #cond "\n"; \
      std::abort();                                                                  \
    }                                                                                \
  } while (0)
