// Helpers shared by the unit tests: a temporary directory that cleans up after itself and
// small file helpers. Kept in a header so the unit test glob (*.cpp) does not pick it up.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "base/result.h"
#include "base/system.h"

namespace bulwark::test {

// A fresh directory under /tmp (short, so unix socket paths fit), removed with its contents.
class TempDir {
public:
    TempDir()
    {
        char tmpl[] = "/tmp/bwut.XXXXXX";
        char* made = ::mkdtemp(tmpl);
        if (!made)
            ADD_FAILURE() << "mkdtemp failed";
        m_path = made ? made : "/tmp";
    }
    ~TempDir() { (void)sys::remove_tree(m_path); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return m_path; }
    std::string file(const std::string& name) const { return m_path + "/" + name; }

private:
    std::string m_path;
};

inline std::string read_all(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline void write_all(const std::string& path, const std::string& data)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

inline mode_t file_mode(const std::string& path)
{
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return static_cast<mode_t>(-1);
    return st.st_mode & 07777;
}

// Ignores SIGPIPE for its lifetime, as bulwarkd does.
class IgnoreSigpipe {
public:
    IgnoreSigpipe() { m_old = ::signal(SIGPIPE, SIG_IGN); }
    ~IgnoreSigpipe() { ::signal(SIGPIPE, m_old); }
    IgnoreSigpipe(const IgnoreSigpipe&) = delete;
    IgnoreSigpipe& operator=(const IgnoreSigpipe&) = delete;

private:
    sighandler_t m_old;
};

// Bytes as hex, for failure messages about binary strings.
inline std::string to_hex_for_trace(const std::string& bytes)
{
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

// gtest helpers for Result: print the error when a Result unexpectedly failed.
template<typename T>
::testing::AssertionResult is_ok(const Result<T>& r)
{
    if (r.is_ok())
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << error_kind_name(r.error().kind()) << ": " << r.error().message();
}

template<typename T>
::testing::AssertionResult fails_with(const Result<T>& r, ErrorKind kind)
{
    if (r.is_ok())
        return ::testing::AssertionFailure() << "succeeded, expected " << error_kind_name(kind);
    if (r.error().kind() != kind)
        return ::testing::AssertionFailure() << "failed with " << error_kind_name(r.error().kind()) << " ("
                                             << r.error().message() << "), expected " << error_kind_name(kind);
    return ::testing::AssertionSuccess();
}

}  // namespace bulwark::test
