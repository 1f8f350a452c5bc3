#include "disk/block_device.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/system.h"

namespace bulwark::disk {

VoidResult BlockDevice::read_at(uint64_t offset, std::span<uint8_t> out)
{
    if (!range_inside(offset, out.size(), size()))
        return Error(ErrorKind::Corrupt,
            describe() + ": a read of " + std::to_string(out.size()) + " bytes at offset " + std::to_string(offset)
                + " lies beyond its end (" + std::to_string(size()) + " bytes)");
    if (out.empty())
        return {};
    TRY(read_inside(offset, out));
    m_stats.reads++;
    m_stats.bytes_read += out.size();
    return {};
}

Result<std::unique_ptr<RawFile>> RawFile::open(const std::string& path)
{
    Fd fd = TRY(sys::open(path, O_RDONLY | O_CLOEXEC));
    return from_fd(std::move(fd), path);
}

Result<std::unique_ptr<RawFile>> RawFile::from_fd(Fd fd, std::string name)
{
    auto st = TRY_CTX(sys::fstat(fd.get()), name);
    if (!S_ISREG(st.st_mode))
        return Error(ErrorKind::InvalidArgument, name + " is not a regular file");
    std::string identity
        = std::to_string(static_cast<uint64_t>(st.st_dev)) + ":" + std::to_string(static_cast<uint64_t>(st.st_ino));
    return std::unique_ptr<RawFile>(
        new RawFile(std::move(fd), std::move(name), static_cast<uint64_t>(st.st_size), std::move(identity)));
}

VoidResult RawFile::read_inside(uint64_t offset, std::span<uint8_t> out)
{
    size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::pread(m_fd.get(), out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return Error::from_errno("cannot read " + m_name, errno);
        if (n == 0)
            return Error(ErrorKind::Io, m_name + " became shorter while it was being read");
        done += static_cast<size_t>(n);
    }
    return {};
}

Result<std::unique_ptr<PartitionView>> PartitionView::create(
    std::shared_ptr<BlockDevice> parent, uint64_t offset, uint64_t length, std::string name)
{
    if (!parent)
        return Error(ErrorKind::Internal, "a partition view needs a parent device");
    if (!range_inside(offset, length, parent->size()))
        return Error(ErrorKind::Corrupt,
            name + " (" + std::to_string(length) + " bytes at offset " + std::to_string(offset) + ") extends beyond the end of "
                + parent->describe());
    return std::unique_ptr<PartitionView>(new PartitionView(std::move(parent), offset, length, std::move(name)));
}

std::string PartitionView::describe() const
{
    return m_name + " of " + m_parent->describe();
}

VoidResult PartitionView::read_inside(uint64_t offset, std::span<uint8_t> out)
{
    return m_parent->read_at(m_offset + offset, out);
}

} // namespace bulwark::disk
