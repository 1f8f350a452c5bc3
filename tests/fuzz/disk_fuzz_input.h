// Shared by the disk reader fuzz targets: the input bytes as a real file (a memfd) read
// through RawFile, the same path an image on disk takes.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "disk/block_device.h"

namespace bulwark::fuzz {

inline void check(bool condition)
{
    if (!condition)
        std::abort();
}

// A memfd holding data, at least min_size bytes long (zeros after the data).
inline std::unique_ptr<disk::RawFile> memory_file(const uint8_t* data, size_t size, uint64_t min_size = 0)
{
    int fd = ::memfd_create("disk-fuzz", MFD_CLOEXEC);
    check(fd >= 0);
    size_t done = 0;
    while (done < size) {
        ssize_t n = ::write(fd, data + done, size - done);
        check(n > 0);
        done += static_cast<size_t>(n);
    }
    if (min_size > size)
        check(::ftruncate(fd, static_cast<off_t>(min_size)) == 0);
    auto file = disk::RawFile::from_fd(Fd(fd), "fuzz input");
    check(file.is_ok());
    return file.release_value();
}

// Every refusal says why and is never blamed on Bulwark itself.
template <typename T> void check_error(const Result<T>& r)
{
    check(r.is_error());
    check(!r.error().message().empty());
    check(r.error().kind() != ErrorKind::Internal);
}

} // namespace bulwark::fuzz
