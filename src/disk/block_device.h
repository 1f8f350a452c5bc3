// Block devices: the byte sources the offline disk reader stacks on one another.
//
//   RawFile        a regular file (a raw disk image, or the host file under a qcow2)
//   Qcow2Reader    the guest view of a qcow2 image (disk/qcow2.h)
//   PartitionView  a window of another device: one partition of a disk
//
// Everything read through them comes from a disk image, which is attacker-controlled: a read
// outside [0, size()) is refused with ErrorKind::Corrupt (the offset came from the image), and
// every device counts what it served so a benchmark can report bytes read and throughput.
// Devices are not thread-safe: one reader at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "base/fd.h"
#include "base/result.h"

namespace bulwark::disk {

struct IoStats {
    uint64_t reads = 0; // read_at calls that succeeded
    uint64_t bytes_read = 0; // bytes those calls returned
};

class BlockDevice {
public:
    virtual ~BlockDevice() = default;
    BlockDevice(const BlockDevice&) = delete;
    BlockDevice& operator=(const BlockDevice&) = delete;

    // Size in bytes.
    virtual uint64_t size() const = 0;
    // What this is, for error messages: "qcow2 image /path/disk.qcow2", "partition 2 of ...".
    virtual std::string describe() const = 0;

    // Reads exactly out.size() bytes at offset. A range that does not lie inside the device
    // is refused (Corrupt: offsets come from the image) and out is left unspecified.
    VoidResult read_at(uint64_t offset, std::span<uint8_t> out);

    const IoStats& stats() const { return m_stats; }
    void reset_stats() { m_stats = {}; }

protected:
    BlockDevice() = default;
    // Called by read_at with a range already checked to lie inside the device.
    virtual VoidResult read_inside(uint64_t offset, std::span<uint8_t> out) = 0;

private:
    IoStats m_stats;
};

// A regular file read with pread. Its size is taken once, at open.
class RawFile final : public BlockDevice {
public:
    // Opens path read-only. Only regular files are accepted.
    static Result<std::unique_ptr<RawFile>> open(const std::string& path);
    // Takes over an open fd (a regular file or a memfd); name is used in messages.
    static Result<std::unique_ptr<RawFile>> from_fd(Fd fd, std::string name);

    uint64_t size() const override { return m_size; }
    std::string describe() const override { return m_name; }
    // "<st_dev>:<st_ino>": the file's identity, whatever path reached it.
    const std::string& identity() const { return m_identity; }

protected:
    VoidResult read_inside(uint64_t offset, std::span<uint8_t> out) override;

private:
    RawFile(Fd fd, std::string name, uint64_t size, std::string identity)
        : m_fd(std::move(fd))
        , m_name(std::move(name))
        , m_size(size)
        , m_identity(std::move(identity))
    {
    }
    Fd m_fd;
    std::string m_name;
    uint64_t m_size;
    std::string m_identity;
};

// The bytes [offset, offset + length) of a parent device, seen as a device of its own.
class PartitionView final : public BlockDevice {
public:
    // Refuses (Corrupt) a window that does not lie inside the parent.
    static Result<std::unique_ptr<PartitionView>> create(
        std::shared_ptr<BlockDevice> parent, uint64_t offset, uint64_t length, std::string name);

    uint64_t size() const override { return m_length; }
    std::string describe() const override;
    uint64_t offset() const { return m_offset; }
    BlockDevice& parent() { return *m_parent; }

protected:
    VoidResult read_inside(uint64_t offset, std::span<uint8_t> out) override;

private:
    PartitionView(std::shared_ptr<BlockDevice> parent, uint64_t offset, uint64_t length, std::string name)
        : m_parent(std::move(parent))
        , m_offset(offset)
        , m_length(length)
        , m_name(std::move(name))
    {
    }
    std::shared_ptr<BlockDevice> m_parent;
    uint64_t m_offset;
    uint64_t m_length;
    std::string m_name;
};

// True when [offset, offset + length) lies inside [0, size), without overflow.
constexpr bool range_inside(uint64_t offset, uint64_t length, uint64_t size)
{
    return offset <= size && length <= size - offset;
}

} // namespace bulwark::disk
