#include "base/result.h"

#include <array>
#include <cstring>

namespace bulwark {

namespace {
struct KindName {
    ErrorKind kind;
    const char* name;
};
constexpr std::array<KindName, 10> k_kind_names{{
    {ErrorKind::InvalidArgument, "invalid_argument"},
    {ErrorKind::NotFound, "not_found"},
    {ErrorKind::Conflict, "conflict"},
    {ErrorKind::Corrupt, "corrupt"},
    {ErrorKind::VerifyFailed, "verify_failed"},
    {ErrorKind::Unavailable, "unavailable"},
    {ErrorKind::Timeout, "timeout"},
    {ErrorKind::Denied, "denied"},
    {ErrorKind::Io, "io"},
    {ErrorKind::Internal, "internal"},
}};
}  // namespace

const char* error_kind_name(ErrorKind kind)
{
    for (const auto& entry : k_kind_names) {
        if (entry.kind == kind)
            return entry.name;
    }
    return "internal";
}

std::optional<ErrorKind> error_kind_from_name(const std::string& name)
{
    for (const auto& entry : k_kind_names) {
        if (name == entry.name)
            return entry.kind;
    }
    return std::nullopt;
}

std::string errno_message(int err)
{
    char buf[256];
    // GNU strerror_r returns a pointer to the message (in buf or static storage).
    return ::strerror_r(err, buf, sizeof buf);
}

Error Error::from_errno(const std::string& what, int err)
{
    ErrorKind kind = ErrorKind::Io;
    if (err == ENOENT)
        kind = ErrorKind::NotFound;
    else if (err == EACCES || err == EPERM)
        kind = ErrorKind::Denied;
    else if (err == EEXIST)
        kind = ErrorKind::Conflict;
    return Error(kind, what + ": " + errno_message(err));
}

}  // namespace bulwark
