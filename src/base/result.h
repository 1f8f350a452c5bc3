// Result<T>: the return type of every fallible call in Bulwark.
//
// Errors are values, not exceptions. An Error carries a category (what kind of failure,
// which the CLI maps to an exit code) and a message written as a sentence that a user can
// act on. Exceptions thrown by dependencies are caught at the call site and turned into
// Errors there.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace bulwark {

enum class ErrorKind {
    InvalidArgument,  // the request itself is wrong (bad name, out-of-range value)
    NotFound,         // an image, guest or snapshot that does not exist
    Conflict,         // a name already taken, a guest in the wrong state, an image in use
    Corrupt,          // input bytes that do not parse (a truncated or malformed file)
    VerifyFailed,     // a digest or signature that does not match: tampering
    Unavailable,      // a dependency is missing or not reachable (QEMU, the daemon)
    Timeout,          // an operation did not finish in time
    Denied,           // not permitted
    Io,               // the operating system refused (disk full, permission, ...)
    Internal,         // a bug in Bulwark
};

const char* error_kind_name(ErrorKind kind);
// strerror(), thread-safe.
std::string errno_message(int err);
std::optional<ErrorKind> error_kind_from_name(const std::string& name);

class Error {
public:
    Error(ErrorKind kind, std::string message) : m_kind(kind), m_message(std::move(message)) {}

    // An error from a failed syscall: "<what>: <strerror(errno)>".
    static Error from_errno(const std::string& what, int err);

    ErrorKind kind() const { return m_kind; }
    const std::string& message() const { return m_message; }

    // Prefix context, e.g. "import 'debian': " + inner message.
    Error with_context(const std::string& context) const
    {
        return Error(m_kind, context + ": " + m_message);
    }

private:
    ErrorKind m_kind;
    std::string m_message;
};

template<typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : m_value(std::move(value)) {}  // NOLINT(google-explicit-constructor)
    Result(Error error) : m_value(std::move(error)) {}  // NOLINT(google-explicit-constructor)

    bool is_ok() const { return std::holds_alternative<T>(m_value); }
    bool is_error() const { return !is_ok(); }

    T& value()
    {
        assert(is_ok());
        return std::get<T>(m_value);
    }
    const T& value() const
    {
        assert(is_ok());
        return std::get<T>(m_value);
    }
    T release_value()
    {
        assert(is_ok());
        return std::move(std::get<T>(m_value));
    }
    const Error& error() const
    {
        assert(is_error());
        return std::get<Error>(m_value);
    }
    Error release_error()
    {
        assert(is_error());
        return std::move(std::get<Error>(m_value));
    }

private:
    std::variant<T, Error> m_value;
};

template<>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : m_error(std::move(error)) {}  // NOLINT(google-explicit-constructor)

    bool is_ok() const { return !m_error.has_value(); }
    bool is_error() const { return m_error.has_value(); }
    void value() const { assert(is_ok()); }
    void release_value() const { assert(is_ok()); }
    const Error& error() const
    {
        assert(is_error());
        return *m_error;
    }
    Error release_error()
    {
        assert(is_error());
        return std::move(*m_error);
    }

private:
    std::optional<Error> m_error;
};

using VoidResult = Result<void>;

}  // namespace bulwark

// TRY(expr): evaluate a Result; on error return it from the enclosing function, otherwise
// yield the value. Uses a GNU statement expression (g++ and clang both support it).
#define TRY(expr)                                   \
    ({                                              \
        auto _bulwark_try = (expr);                 \
        if (_bulwark_try.is_error())                \
            return _bulwark_try.release_error();    \
        _bulwark_try.release_value();               \
    })

// TRY_CTX(expr, context): like TRY, but prefixes the error message with context.
#define TRY_CTX(expr, context)                                      \
    ({                                                              \
        auto _bulwark_try = (expr);                                 \
        if (_bulwark_try.is_error())                                \
            return _bulwark_try.release_error().with_context(context); \
        _bulwark_try.release_value();                               \
    })
