// Fuzzes probe_disk, the first code that reads an untrusted disk image.
//
// Input layout: the first min(size, 4096) bytes are the head of the image. An input of at
// most 4096 bytes is a whole file (file_size = size). A longer input says how big the file
// claims to be: file_size = 4096 + (little-endian u64 at offset 4096, zero-padded) mod 2^46,
// so a 4 KiB head of a real qcow2 can be paired with its real (or a hostile) file size. The
// corpus files are built that way (see corpus/README.md).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "image/format.h"

using namespace bulwark;

static void check(bool condition)
{
    if (!condition)
        std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const char* bytes = reinterpret_cast<const char*>(data);
    std::string_view head(bytes, size < k_probe_bytes ? size : k_probe_bytes);
    uint64_t file_size = size;
    if (size > k_probe_bytes) {
        uint64_t extra = 0;
        for (size_t i = 0; i < 8 && k_probe_bytes + i < size; ++i)
            extra |= static_cast<uint64_t>(data[k_probe_bytes + i]) << (8 * i);
        file_size = k_probe_bytes + (extra % (1ULL << 46));
    }

    auto result = probe_disk(head, file_size);
    if (result.is_error()) {
        // Every refusal says why, and is never blamed on Bulwark itself.
        check(!result.error().message().empty());
        check(result.error().kind() != ErrorKind::Internal);
        return 0;
    }
    const DiskInfo& info = result.value();
    // What an accepted image promises to the rest of Bulwark.
    check(info.file_size == file_size);
    check(info.virtual_size > 0 && info.virtual_size <= k_max_virtual_size);
    if (info.format == DiskFormat::Raw) {
        check(file_size % 512 == 0);
        check(info.virtual_size == file_size);
        check(!(head.size() >= 4 && head.substr(0, 3) == "QFI"));
    } else {
        check(head.size() >= 72 && head.substr(0, 4) == std::string_view("QFI\xfb", 4));
        check(info.qcow2_version == 2 || info.qcow2_version == 3);
        check(info.cluster_size >= 512 && info.cluster_size <= (2u << 20));
        check((info.cluster_size & (info.cluster_size - 1)) == 0);
        // No backing file, no encryption.
        for (size_t i = 8; i < 16; ++i)
            check(head[i] == 0);
        for (size_t i = 32; i < 36; ++i)
            check(head[i] == 0);
    }
    return 0;
}
