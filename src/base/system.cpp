#include "base/system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <random>

namespace bulwark::sys {

Result<Fd> memfd_with(const std::string& text, const char* name)
{
    Fd fd(::memfd_create(name, MFD_CLOEXEC));
    if (!fd.valid())
        return Error::from_errno("memfd_create", errno);
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return Error::from_errno("write a memfd", errno);
        done += static_cast<std::size_t>(n);
    }
    if (::lseek(fd.get(), 0, SEEK_SET) < 0)
        return Error::from_errno("seek a memfd", errno);
    return fd;
}

Result<Fd> open(const std::string& path, int flags, mode_t mode)
{
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0)
        return Error::from_errno("cannot open " + path, errno);
    return Fd(fd);
}

Result<struct stat> fstat(int fd)
{
    struct stat st {};
    if (::fstat(fd, &st) < 0)
        return Error::from_errno("fstat", errno);
    return st;
}

Result<struct stat> stat(const std::string& path)
{
    struct stat st {};
    if (::stat(path.c_str(), &st) < 0)
        return Error::from_errno("cannot stat " + path, errno);
    return st;
}

bool exists(const std::string& path)
{
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

Result<std::string> read_fd(int fd, size_t max_bytes)
{
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return Error::from_errno("read", errno);
        }
        if (n == 0)
            break;
        if (out.size() + static_cast<size_t>(n) > max_bytes)
            return Error(ErrorKind::InvalidArgument,
                "input is larger than the limit of " + std::to_string(max_bytes) + " bytes");
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

Result<std::string> read_file(const std::string& path, size_t max_bytes)
{
    auto fd = TRY(open(path, O_RDONLY));
    return TRY_CTX(read_fd(fd.get(), max_bytes), path);
}

VoidResult write_all(int fd, const void* data, size_t size)
{
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        ssize_t n = ::write(fd, p, size);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return Error::from_errno("write", errno);
        }
        p += n;
        size -= static_cast<size_t>(n);
    }
    return {};
}

VoidResult write_all(int fd, const std::string& data)
{
    return write_all(fd, data.data(), data.size());
}

static std::string random_suffix()
{
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    return std::to_string(rng());
}

VoidResult write_file_atomic(const std::string& path, const std::string& data, mode_t mode)
{
    std::string tmp = path + ".tmp." + random_suffix();
    {
        auto fd = TRY(open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode));
        if (::fchmod(fd.get(), mode) < 0)
            return Error::from_errno("chmod " + tmp, errno);
        auto written = write_all(fd.get(), data);
        if (written.is_error() || ::fsync(fd.get()) < 0) {
            ::unlink(tmp.c_str());
            return written.is_error() ? written.release_error() : Error::from_errno("fsync " + tmp, errno);
        }
    }
    if (::rename(tmp.c_str(), path.c_str()) < 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return Error::from_errno("rename " + tmp, err);
    }
    return fsync_dir(dirname(path));
}

VoidResult mkdirs(const std::string& dir, mode_t mode)
{
    if (dir.empty() || dir == "/")
        return {};
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return Error(ErrorKind::Conflict, dir + " exists and is not a directory");
        return {};
    }
    TRY(mkdirs(dirname(dir), 0755));
    if (::mkdir(dir.c_str(), mode) < 0 && errno != EEXIST)
        return Error::from_errno("cannot create directory " + dir, errno);
    if (::chmod(dir.c_str(), mode) < 0)
        return Error::from_errno("chmod " + dir, errno);
    return {};
}

std::vector<std::string> list_dir(const std::string& dir)
{
    std::vector<std::string> names;
    DIR* d = ::opendir(dir.c_str());
    if (!d)
        return names;
    while (auto* ent = ::readdir(d)) {
        std::string name = ent->d_name;
        if (name != "." && name != "..")
            names.push_back(std::move(name));
    }
    ::closedir(d);
    return names;
}

VoidResult remove_tree(const std::string& path)
{
    struct stat st {};
    if (::lstat(path.c_str(), &st) < 0) {
        if (errno == ENOENT)
            return {};
        return Error::from_errno("cannot stat " + path, errno);
    }
    if (S_ISDIR(st.st_mode)) {
        for (const auto& name : list_dir(path))
            TRY(remove_tree(join(path, name)));
        if (::rmdir(path.c_str()) < 0)
            return Error::from_errno("cannot remove " + path, errno);
        return {};
    }
    return unlink_if_exists(path);
}

VoidResult unlink_if_exists(const std::string& path)
{
    if (::unlink(path.c_str()) < 0 && errno != ENOENT)
        return Error::from_errno("cannot remove " + path, errno);
    return {};
}

VoidResult rename(const std::string& from, const std::string& to)
{
    if (::rename(from.c_str(), to.c_str()) < 0)
        return Error::from_errno("cannot rename " + from + " to " + to, errno);
    return {};
}

VoidResult chmod(const std::string& path, mode_t mode)
{
    if (::chmod(path.c_str(), mode) < 0)
        return Error::from_errno("chmod " + path, errno);
    return {};
}

VoidResult fsync_dir(const std::string& dir)
{
    auto fd = TRY(open(dir, O_RDONLY | O_DIRECTORY));
    if (::fsync(fd.get()) < 0)
        return Error::from_errno("fsync " + dir, errno);
    return {};
}

Result<uint64_t> copy_fd_to_file(int fd, const std::string& path, mode_t mode, uint64_t max_bytes)
{
    auto out = TRY(open(path, O_WRONLY | O_CREAT | O_EXCL, mode));
    if (::fchmod(out.get(), mode) < 0)
        return Error::from_errno("chmod " + path, errno);
    uint64_t total = 0;
    std::vector<char> buf(1 << 20);
    for (;;) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return Error::from_errno("read", errno);
        }
        if (n == 0)
            break;
        total += static_cast<uint64_t>(n);
        if (total > max_bytes)
            return Error(ErrorKind::InvalidArgument,
                "input is larger than the limit of " + std::to_string(max_bytes) + " bytes");
        TRY(write_all(out.get(), buf.data(), static_cast<size_t>(n)));
    }
    if (::fsync(out.get()) < 0)
        return Error::from_errno("fsync " + path, errno);
    return total;
}

std::string dirname(const std::string& path)
{
    auto pos = path.find_last_of('/');
    if (pos == std::string::npos)
        return ".";
    if (pos == 0)
        return "/";
    return path.substr(0, pos);
}

std::string basename(const std::string& path)
{
    auto pos = path.find_last_of('/');
    return pos == std::string::npos ? path : path.substr(pos + 1);
}

std::string join(const std::string& a, const std::string& b)
{
    if (a.empty())
        return b;
    if (a.back() == '/')
        return a + b;
    return a + "/" + b;
}

Result<std::string> realpath(const std::string& path)
{
    char buf[PATH_MAX];
    if (!::realpath(path.c_str(), buf))
        return Error::from_errno("cannot resolve " + path, errno);
    return std::string(buf);
}

Result<std::string> find_executable(const std::string& name)
{
    if (name.find('/') != std::string::npos) {
        if (::access(name.c_str(), X_OK) == 0)
            return name;
        return Error(ErrorKind::Unavailable, name + " is not an executable file");
    }
    const char* path_env = ::getenv("PATH");
    std::string path = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find(':', start);
        if (end == std::string::npos)
            end = path.size();
        std::string dir = path.substr(start, end - start);
        if (!dir.empty()) {
            std::string candidate = join(dir, name);
            if (::access(candidate.c_str(), X_OK) == 0)
                return candidate;
        }
        start = end + 1;
    }
    return Error(ErrorKind::Unavailable, name + " was not found on PATH");
}

uint64_t host_memory_mib()
{
    struct sysinfo info {};
    if (::sysinfo(&info) < 0)
        return 0;
    return static_cast<uint64_t>(info.totalram) * info.mem_unit / (1024 * 1024);
}

unsigned host_cpus()
{
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<unsigned>(n) : 1;
}

}  // namespace bulwark::sys
