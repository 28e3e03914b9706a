// Errors that cross into Python as exceptions (never aborts): bindings translate InvalidArgument to
// ValueError and InternalError to RuntimeError. Kernels validate what the torch layer cannot see
// (e.g. a params struct filled inconsistently) and throw; the message names the argument.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace serengeti {

// A caller passed something the op does not accept.
class InvalidArgument : public std::invalid_argument {
 public:
  explicit InvalidArgument(const std::string& what) : std::invalid_argument(what) {}
};

// Something the library itself got wrong or could not do (allocation, unsupported hardware state).
class InternalError : public std::runtime_error {
 public:
  explicit InternalError(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

}  // namespace serengeti

// SG_CHECK_ARG(cond, "k", ": expected 2 dims, got ", n) throws InvalidArgument("k: expected ...").
#define SG_CHECK_ARG(cond, ...)                                                  \
  do {                                                                           \
    if (!(cond)) throw ::serengeti::InvalidArgument(::serengeti::detail::concat(__VA_ARGS__)); \
  } while (0)

#define SG_CHECK_INTERNAL(cond, ...)                                             \
  do {                                                                           \
    if (!(cond)) throw ::serengeti::InternalError(::serengeti::detail::concat(__VA_ARGS__)); \
  } while (0)
