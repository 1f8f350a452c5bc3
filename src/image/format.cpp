#include "image/format.h"

#include <unistd.h>

#include <array>
#include <cerrno>

#include "base/endian.h"
#include "base/system.h"

namespace bulwark {

const char* disk_format_name(DiskFormat format) { return format == DiskFormat::Qcow2 ? "qcow2" : "raw"; }

static uint32_t be32(std::string_view s, size_t off) { return load_be32(s.data() + off); }

static uint64_t be64(std::string_view s, size_t off) { return load_be64(s.data() + off); }

static bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Checks that [offset, offset + length) lies inside a file of file_size bytes, without overflow.
static bool inside(uint64_t offset, uint64_t length, uint64_t file_size)
{
    return offset <= file_size && length <= file_size - offset;
}

static Result<DiskInfo> probe_qcow2(std::string_view head, uint64_t file_size)
{
    auto corrupt = [](const std::string& why) { return Error(ErrorKind::Corrupt, "qcow2 image " + why); };
    if (head.size() < 72)
        return corrupt("is truncated: its header is cut short");
    DiskInfo info;
    info.format = DiskFormat::Qcow2;
    info.file_size = file_size;
    info.qcow2_version = be32(head, 4);
    if (info.qcow2_version != 2 && info.qcow2_version != 3)
        return Error(ErrorKind::Corrupt, "qcow2 version " + std::to_string(info.qcow2_version) + " is not supported (only 2 and 3)");
    uint64_t backing_offset = be64(head, 8);
    uint32_t cluster_bits = be32(head, 20);
    info.virtual_size = be64(head, 24);
    uint32_t crypt_method = be32(head, 32);
    uint32_t l1_size = be32(head, 36);
    uint64_t l1_offset = be64(head, 40);
    uint64_t refcount_offset = be64(head, 48);
    uint32_t refcount_clusters = be32(head, 56);
    info.snapshots = be32(head, 60);
    uint64_t snapshots_offset = be64(head, 64);

    if (cluster_bits < k_qcow2_min_cluster_bits || cluster_bits > k_qcow2_max_cluster_bits)
        return corrupt("has an invalid cluster size (2^" + std::to_string(cluster_bits) + ")");
    info.cluster_size = 1U << cluster_bits;
    uint64_t cluster_mask = info.cluster_size - 1;
    if (info.virtual_size == 0)
        return corrupt("has a virtual size of 0");
    if (info.virtual_size > k_max_virtual_size)
        return corrupt("claims a virtual size over the 16 TiB limit");
    if (backing_offset != 0)
        return Error(ErrorKind::Denied, "qcow2 image names a backing file; import a self-contained image "
                                        "(qemu-img convert -O qcow2 flattens it)");
    if (crypt_method != 0)
        return Error(ErrorKind::Denied, "qcow2 image uses qcow2's own encryption, which is not accepted at import");
    if (info.qcow2_version == 3) {
        if (head.size() < 104)
            return corrupt("is truncated: its version 3 header is cut short");
        uint64_t incompatible = be64(head, 72);
        uint32_t header_length = be32(head, 100);
        if (header_length < 104 || header_length > head.size())
            return corrupt("has an invalid header length");
        if (incompatible & k_qcow2_incompat_corrupt)
            return corrupt("is marked corrupt by QEMU");
        if (incompatible & k_qcow2_incompat_dirty)
            return corrupt("was not closed cleanly (dirty bit set); repair it with qemu-img check -r all");
        if (incompatible & k_qcow2_incompat_data_file)
            return Error(ErrorKind::Denied, "qcow2 image keeps its data in an external file, which is not accepted at import");
        if (incompatible & ~k_qcow2_incompat_known)
            return corrupt("uses incompatible features this version does not know");
    }
    if (l1_size > k_qcow2_max_l1_bytes / 8)
        return corrupt("has an L1 table over 32 MiB");
    uint64_t needed_l1 = ((info.virtual_size + info.cluster_size - 1) >> cluster_bits);
    uint64_t l2_entries = info.cluster_size / 8;
    needed_l1 = (needed_l1 + l2_entries - 1) / l2_entries;
    if (l1_size < needed_l1)
        return corrupt("has an L1 table too small for its virtual size");
    if ((l1_offset & cluster_mask) != 0 || (refcount_offset & cluster_mask) != 0)
        return corrupt("has a metadata table that is not cluster-aligned");
    if (refcount_clusters == 0 || refcount_clusters > (8U << 20))
        return corrupt("has an invalid refcount table size");
    if (l1_size > 0 && !inside(l1_offset, static_cast<uint64_t>(l1_size) * 8, file_size))
        return corrupt("is truncated: its L1 table lies beyond the end of the file");
    if (!inside(refcount_offset, static_cast<uint64_t>(refcount_clusters) << cluster_bits, file_size))
        return corrupt("is truncated: its refcount table lies beyond the end of the file");
    if (info.snapshots > 65536)
        return corrupt("claims more than 65536 snapshots");
    if (info.snapshots > 0 && !inside(snapshots_offset, 1, file_size))
        return corrupt("is truncated: its snapshot table lies beyond the end of the file");
    return info;
}

Result<DiskInfo> probe_disk(std::string_view head, uint64_t file_size)
{
    if (head.size() > file_size)
        return Error(ErrorKind::Internal, "probe head larger than the file");
    if (file_size == 0)
        return Error(ErrorKind::Corrupt, "the file is empty: it is neither a qcow2 nor a raw disk image");

    static const std::array<std::pair<std::string_view, const char*>, 7> foreign{{
        {std::string_view(k_qcow2_magic, 4), nullptr},  // qcow2, handled below
        {std::string_view("QED\0", 4), "QED"},
        {"KDMV", "VMDK"},
        {"# Disk DescriptorFile", "VMDK descriptor"},
        {"vhdxfile", "VHDX"},
        {"conectix", "VHD"},
        {std::string_view("LUKS\xba\xbe", 6), "LUKS"},
    }};
    for (const auto& [magic, name] : foreign) {
        if (!starts_with(head, magic))
            continue;
        if (!name)
            return probe_qcow2(head, file_size);
        return Error(ErrorKind::Corrupt, std::string("the file is a ") + name
                + " image, which is neither qcow2 nor raw; convert it with qemu-img convert -O qcow2");
    }
    if (head.size() >= 4 && starts_with(head, std::string_view("QFI", 3)))
        return Error(ErrorKind::Corrupt, "the file looks like a qcow2 image with a damaged header");
    if (file_size < 4 && starts_with(std::string_view("QFI\xfb", 4), head))
        return Error(ErrorKind::Corrupt, "qcow2 image is truncated: its header is cut short");
    if (starts_with(head, "<<< ") && head.substr(0, 64).find("VirtualBox Disk Image") != std::string_view::npos)
        return Error(ErrorKind::Corrupt, "the file is a VDI image, which is neither qcow2 nor raw; convert it with qemu-img convert -O qcow2");
    if (file_size % 512 != 0)
        return Error(ErrorKind::Corrupt, "the file is neither qcow2 nor raw: a raw disk image is a whole number of "
                                         "512-byte sectors, this one is " + std::to_string(file_size) + " bytes");
    if (file_size > k_max_virtual_size)
        return Error(ErrorKind::Corrupt, "raw image is larger than the 16 TiB limit");
    DiskInfo info;
    info.format = DiskFormat::Raw;
    info.virtual_size = file_size;
    info.file_size = file_size;
    return info;
}

Result<DiskInfo> probe_disk_fd(int fd)
{
    auto st = TRY(sys::fstat(fd));
    if (!S_ISREG(st.st_mode))
        return Error(ErrorKind::InvalidArgument, "the image is not a regular file");
    uint64_t file_size = static_cast<uint64_t>(st.st_size);
    std::string head(std::min<uint64_t>(file_size, k_probe_bytes), '\0');
    size_t got = 0;
    while (got < head.size()) {
        ssize_t n = ::pread(fd, head.data() + got, head.size() - got, static_cast<off_t>(got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return Error::from_errno("cannot read the image", errno);
        if (n == 0)
            break;
        got += static_cast<size_t>(n);
    }
    head.resize(got);
    return probe_disk(head, file_size);
}

}  // namespace bulwark
