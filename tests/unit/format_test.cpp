// probe_disk: real qcow2 images made by qemu-img, then hostile variants made by patching
// their header bytes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>

#include "base/process.h"
#include "image/format.h"
#include "test_util.h"

namespace bulwark {
namespace {

using test::fails_with;
using test::is_ok;
using test::TempDir;

void put_be32(std::string& s, size_t off, uint32_t v)
{
    for (int i = 3; i >= 0; --i, v >>= 8)
        s[off + static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
}

void put_be64(std::string& s, size_t off, uint64_t v)
{
    put_be32(s, off, static_cast<uint32_t>(v >> 32));
    put_be32(s, off + 4, static_cast<uint32_t>(v));
}

uint64_t get_be64(const std::string& s, size_t off)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8; ++i)
        v = (v << 8) | static_cast<uint8_t>(s[off + i]);
    return v;
}

class Qcow2Probe : public ::testing::Test {
protected:
    static void SetUpTestSuite() { s_dir = new TempDir(); }
    static void TearDownTestSuite()
    {
        delete s_dir;
        s_dir = nullptr;
    }

    static void qemu_img(std::vector<std::string> args)
    {
        args.insert(args.begin(), "qemu-img");
        auto r = run_command(args, std::chrono::seconds(20));
        ASSERT_TRUE(is_ok(r));
        ASSERT_TRUE(r.value().status.success()) << r.value().output;
    }

    // The named image, made by qemu-img on first use (ctest runs each test in its own
    // process, so only what a test needs is made).
    static std::string image(const std::string& name) { return test::read_all(image_path(name)); }

    static std::string image_path(const std::string& name)
    {
        static const std::map<std::string, std::vector<std::string>> recipes {
            {"v3.qcow2", {"create", "-q", "-f", "qcow2", "@", "1G"}},
            {"v2.qcow2", {"create", "-q", "-f", "qcow2", "-o", "compat=0.10", "@", "64M"}},
            {"backed.qcow2", {"create", "-q", "-f", "qcow2", "-b", "v3.qcow2", "-F", "qcow2", "@"}},
            {"image.qed", {"create", "-q", "-f", "qed", "@", "64M"}},
            {"image.vmdk", {"create", "-q", "-f", "vmdk", "@", "64M"}},
            {"image.vhdx", {"create", "-q", "-f", "vhdx", "@", "64M"}},
        };
        std::string path = s_dir->file(name);
        if (!sys::exists(path)) {
            if (name == "backed.qcow2")
                image_path("v3.qcow2");
            auto args = recipes.at(name);
            for (auto& a : args) {
                if (a == "@")
                    a = path;
                else if (a == "v3.qcow2")
                    a = s_dir->file(a);
            }
            qemu_img(args);
        }
        return path;
    }

    // Probes an image made by qemu-img in place.
    static Result<DiskInfo> probe_file(const std::string& name)
    {
        int fd = ::open(image_path(name).c_str(), O_RDONLY | O_CLOEXEC);
        EXPECT_GE(fd, 0);
        auto r = probe_disk_fd(fd);
        ::close(fd);
        return r;
    }

    // Probes bytes as a file on disk would be probed (through probe_disk_fd).
    static Result<DiskInfo> probe_bytes(const std::string& bytes)
    {
        static int counter = 0;
        std::string path = s_dir->file("probe" + std::to_string(counter++));
        test::write_all(path, bytes);
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        EXPECT_GE(fd, 0);
        auto r = probe_disk_fd(fd);
        ::close(fd);
        ::unlink(path.c_str());
        return r;
    }

    static Result<DiskInfo> probe_patched(const std::string& name, const std::function<void(std::string&)>& patch)
    {
        std::string bytes = image(name);
        patch(bytes);
        return probe_bytes(bytes);
    }

    static inline TempDir* s_dir = nullptr;
};

TEST_F(Qcow2Probe, RealImagesAccepted)
{
    {
        SCOPED_TRACE("RealV3ImageAccepted");
        auto r = probe_bytes(image("v3.qcow2"));
        ASSERT_TRUE(is_ok(r));
        EXPECT_EQ(r.value().format, DiskFormat::Qcow2);
        EXPECT_EQ(r.value().virtual_size, 1ULL << 30);
        EXPECT_EQ(r.value().qcow2_version, 3u);
        EXPECT_EQ(r.value().cluster_size, 65536u);
        EXPECT_EQ(r.value().snapshots, 0u);
        EXPECT_EQ(r.value().file_size, image("v3.qcow2").size());
    }
    {
        SCOPED_TRACE("RealV2ImageAccepted");
        auto r = probe_bytes(image("v2.qcow2"));
        ASSERT_TRUE(is_ok(r));
        EXPECT_EQ(r.value().format, DiskFormat::Qcow2);
        EXPECT_EQ(r.value().virtual_size, 64ULL << 20);
        EXPECT_EQ(r.value().qcow2_version, 2u);
    }
    {
        SCOPED_TRACE("UnalignedVirtualSizeAccepted");
        TempDir dir;
        auto r = run_command({"qemu-img", "create", "-q", "-f", "qcow2", dir.file("odd.qcow2"), "1000001"},
            std::chrono::seconds(20));
        ASSERT_TRUE(is_ok(r));
        ASSERT_TRUE(r.value().status.success()) << r.value().output;
        int fd = ::open(dir.file("odd.qcow2").c_str(), O_RDONLY | O_CLOEXEC);
        auto p = probe_disk_fd(fd);
        ::close(fd);
        ASSERT_TRUE(is_ok(p));
        // qemu-img rounds the size up to whole sectors.
        EXPECT_EQ(p.value().virtual_size, 1000448u);
    }
}

TEST_F(Qcow2Probe, BackingFileDenied)
{
    {
        SCOPED_TRACE("RealBackingFileImageDenied");
        auto r = probe_file("backed.qcow2");
        EXPECT_TRUE(fails_with(r, ErrorKind::Denied));
    }
    {
        SCOPED_TRACE("PatchedBackingOffsetDenied");
        for (uint64_t off : {uint64_t(0x200), uint64_t(1), ~uint64_t(0)}) {
            auto r = probe_patched("v3.qcow2", [&](std::string& b) {
                put_be64(b, 8, off);
                put_be32(b, 16, 10);
            });
            EXPECT_TRUE(fails_with(r, ErrorKind::Denied)) << off;
            auto r2 = probe_patched("v2.qcow2", [&](std::string& b) { put_be64(b, 8, off); });
            EXPECT_TRUE(fails_with(r2, ErrorKind::Denied)) << off;
        }
    }
}

TEST_F(Qcow2Probe, BadVersionOrClusterSizeRefused)
{
    {
        SCOPED_TRACE("UnsupportedVersionsRefused");
        for (uint32_t v : {0u, 1u, 4u, 0xffffffffu}) {
            auto r = probe_patched("v3.qcow2", [&](std::string& b) { put_be32(b, 4, v); });
            ASSERT_TRUE(fails_with(r, ErrorKind::Corrupt)) << v;
            EXPECT_NE(r.error().message().find("version"), std::string::npos) << r.error().message();
        }
    }
    {
        SCOPED_TRACE("BadClusterBitsRefused");
        for (uint32_t bits : {0u, 8u, 22u, 30u, 63u, 64u, 0xffffffffu}) {
            auto r = probe_patched("v3.qcow2", [&](std::string& b) { put_be32(b, 20, bits); });
            EXPECT_TRUE(fails_with(r, ErrorKind::Corrupt)) << bits;
        }
    }
}

TEST_F(Qcow2Probe, BadVirtualSizeRefused)
{
    {
        SCOPED_TRACE("ZeroSizeRefused");
        auto r = probe_patched("v3.qcow2", [](std::string& b) { put_be64(b, 24, 0); });
        EXPECT_TRUE(fails_with(r, ErrorKind::Corrupt));
    }
    {
        SCOPED_TRACE("SizeOver16TiBRefused");
        for (uint64_t size : {k_max_virtual_size + 1, k_max_virtual_size + 512, uint64_t(1) << 62, ~uint64_t(0)}) {
            auto r = probe_patched("v3.qcow2", [&](std::string& b) { put_be64(b, 24, size); });
            EXPECT_TRUE(fails_with(r, ErrorKind::Corrupt)) << size;
        }
    }
    {
        SCOPED_TRACE("LargerSizeWithTooSmallL1Refused");
        // 1 TiB with the 2-entry L1 table of a 1 GiB image: the L1 table cannot map it.
        auto r = probe_patched("v3.qcow2", [](std::string& b) { put_be64(b, 24, uint64_t(1) << 40); });
        EXPECT_TRUE(fails_with(r, ErrorKind::Corrupt));
    }
}

TEST_F(Qcow2Probe, TablesBeyondEofRefused)
{
    {
        SCOPED_TRACE("L1TableBeyondEofRefusedAsTruncated");
        std::string b = image("v3.qcow2");
        uint64_t l1_offset = get_be64(b, 40);
        ASSERT_GT(l1_offset, 0u);
        ASSERT_LT(l1_offset, b.size());
        // Cut the file in the middle of the L1 table, then right at its start.
        for (uint64_t cut : {l1_offset + 8, l1_offset}) {
            auto r = probe_bytes(b.substr(0, cut));
            ASSERT_TRUE(fails_with(r, ErrorKind::Corrupt)) << cut;
            EXPECT_NE(r.error().message().find("truncated"), std::string::npos) << r.error().message();
        }
        // And an L1 offset pointing far past the end (cluster-aligned, so only the bound check stops it).
        auto r = probe_patched("v3.qcow2", [](std::string& b2) { put_be64(b2, 40, uint64_t(1) << 40); });
        ASSERT_TRUE(fails_with(r, ErrorKind::Corrupt));
        EXPECT_NE(r.error().message().find("truncated"), std::string::npos) << r.error().message();
    }
    {
        SCOPED_TRACE("L1OffsetOverflowRefused");
        // offset + size wraps around 2^64: must not pass the bounds check.
        auto r = probe_patched("v3.qcow2", [](std::string& b) { put_be64(b, 40, ~uint64_t(0xffff)); });
        EXPECT_TRUE(fails_with(r, ErrorKind::Corrupt));
    }
    {
        SCOPED_TRACE("RefcountTableBeyondEofRefused");
        auto r = probe_patched("v3.qcow2", [](std::string& b) { put_be64(b, 48, uint64_t(1) << 40); });
        EXPECT_TRUE(fails_with(r, ErrorKind::Corrupt));
        auto r2 = probe_patched("v3.qcow2", [](std::string& b) { put_be32(b, 56, 0xffffffffu); });
        EXPECT_TRUE(fails_with(r2, ErrorKind::Corrupt));
        auto r3 = probe_patched("v3.qcow2", [](std::string& b) { put_be32(b, 56, 0); });
        EXPECT_TRUE(fails_with(r3, ErrorKind::Corrupt));
    }
    {
        SCOPED_TRACE("SnapshotTableBeyondEofRefused");
        auto r = probe_patched("v3.qcow2", [](std::string& b) {
            put_be32(b, 60, 1);
            put_be64(b, 64, uint64_t(1) << 40);
        });
        EXPECT_TRUE(fails_with(r, ErrorKind::Corrupt));
        auto r2 = probe_patched("v3.qcow2", [](std::string& b) {
            put_be32(b, 60, 0x7fffffff);
            put_be64(b, 64, 0x10000);
        });
        EXPECT_TRUE(fails_with(r2, ErrorKind::Corrupt));
    }
}

TEST_F(Qcow2Probe, BadTableGeometryRefused)
{
    {
        SCOPED_TRACE("HugeL1SizeRefused");
        auto r = probe_patched("v3.qcow2", [](std::string& b) { put_be32(b, 36, 0xffffffffu); });
        EXPECT_TRUE(fails_with(r, ErrorKind::Corrupt));
    }
    {
        SCOPED_TRACE("UnalignedMetadataRefused");
        auto r = probe_patched("v3.qcow2", [](std::string& b) { put_be64(b, 40, get_be64(b, 40) + 8); });
        EXPECT_TRUE(fails_with(r, ErrorKind::Corrupt));
    }
}

TEST_F(Qcow2Probe, IncompatibleFeatureBitsRefused)
{
    struct Case {
        uint64_t bits;
        ErrorKind kind;
        const char* what;
    };
    for (const auto& c : {Case {1u << 0, ErrorKind::Corrupt, "dirty"}, Case {1u << 1, ErrorKind::Corrupt, "corrupt"},
             Case {1u << 2, ErrorKind::Denied, "external data file"}, Case {1ULL << 5, ErrorKind::Corrupt, "unknown"},
             Case {1ULL << 63, ErrorKind::Corrupt, "unknown high"}}) {
        auto r = probe_patched("v3.qcow2", [&](std::string& b) { put_be64(b, 72, c.bits); });
        EXPECT_TRUE(fails_with(r, c.kind)) << c.what;
    }
}

TEST_F(Qcow2Probe, EncryptionDenied)
{
    for (uint32_t method : {1u, 2u, 0xffffffffu}) {
        auto r = probe_patched("v3.qcow2", [&](std::string& b) { put_be32(b, 32, method); });
        EXPECT_TRUE(fails_with(r, ErrorKind::Denied)) << method;
    }
}

TEST_F(Qcow2Probe, BadOrTruncatedHeaderRefused)
{
    {
        SCOPED_TRACE("BadHeaderLengthRefused");
        for (uint32_t len : {0u, 103u, 4097u, 0xffffffffu}) {
            auto r = probe_patched("v3.qcow2", [&](std::string& b) { put_be32(b, 100, len); });
            EXPECT_TRUE(fails_with(r, ErrorKind::Corrupt)) << len;
        }
    }
    {
        SCOPED_TRACE("TruncatedHeadersRefused");
        std::string b = image("v3.qcow2");
        for (size_t len : {size_t(1), size_t(3), size_t(4), size_t(71), size_t(72), size_t(103), size_t(512)}) {
            auto r = probe_bytes(b.substr(0, len));
            EXPECT_TRUE(fails_with(r, ErrorKind::Corrupt)) << len;
        }
    }
    {
        SCOPED_TRACE("DamagedMagicIsNotRaw");
        // "QFI" followed by the wrong byte, in a file whose size would pass as raw.
        std::string b = image("v3.qcow2").substr(0, 65536);
        b[3] = 'x';
        auto r = probe_bytes(b);
        EXPECT_TRUE(fails_with(r, ErrorKind::Corrupt));
    }
}

TEST_F(Qcow2Probe, ForeignFormatsRefused)
{
    {
        SCOPED_TRACE("ForeignFormatsRefused");
        auto vmdk = probe_file("image.vmdk");
        ASSERT_TRUE(fails_with(vmdk, ErrorKind::Corrupt));
        EXPECT_NE(vmdk.error().message().find("VMDK"), std::string::npos) << vmdk.error().message();
        auto vhdx = probe_file("image.vhdx");
        ASSERT_TRUE(fails_with(vhdx, ErrorKind::Corrupt));
        EXPECT_NE(vhdx.error().message().find("VHDX"), std::string::npos) << vhdx.error().message();

        struct Magic {
            std::string bytes;
            const char* what;
        };
        for (const auto& m : {Magic {std::string("LUKS\xba\xbe\x00\x01", 8), "LUKS"}, Magic {"conectix", "VHD"},
                 Magic {"# Disk DescriptorFile\n", "VMDK descriptor"},
                 Magic {"<<< Oracle VM VirtualBox Disk Image >>>\n", "VDI"}}) {
            // Sized as a raw disk would be, so only the magic can give it away.
            std::string b = m.bytes;
            b.resize(64 << 10);
            auto r = probe_bytes(b);
            EXPECT_TRUE(fails_with(r, ErrorKind::Corrupt)) << m.what;
        }
    }
    {
        SCOPED_TRACE("RealQedImageRefused");
        // QED begins with "QED\0" (QEMU's QED_MAGIC, little-endian); a whole number of sectors, so
        // only the magic keeps it from passing as raw.
        auto r = probe_file("image.qed");
        ASSERT_TRUE(fails_with(r, ErrorKind::Corrupt));
        EXPECT_NE(r.error().message().find("QED"), std::string::npos) << r.error().message();
    }
}

TEST(RawProbe, RawRefused)
{
    {
        SCOPED_TRACE("EmptyFileRefused");
        EXPECT_TRUE(fails_with(probe_disk("", 0), ErrorKind::Corrupt));
    }
    {
        SCOPED_TRACE("NonSectorMultipleRefused");
        for (uint64_t size : {uint64_t(1), uint64_t(511), uint64_t(513), uint64_t(1 << 20) + 1}) {
            std::string head(std::min<uint64_t>(size, k_probe_bytes), '\0');
            auto r = probe_disk(head, size);
            EXPECT_TRUE(fails_with(r, ErrorKind::Corrupt)) << size;
        }
    }
    {
        SCOPED_TRACE("RawOver16TiBRefused");
        auto r = probe_disk(std::string(k_probe_bytes, '\0'), k_max_virtual_size + 512);
        EXPECT_TRUE(fails_with(r, ErrorKind::Corrupt));
    }
    {
        SCOPED_TRACE("ShortQcow2MagicPrefixRefused");
        // A tiny file that is a prefix of the qcow2 magic.
        EXPECT_TRUE(fails_with(probe_disk("QF", 2), ErrorKind::Corrupt));
        EXPECT_TRUE(fails_with(probe_disk("Q", 1), ErrorKind::Corrupt));
    }
}

TEST(RawProbe, RawAccepted)
{
    {
        SCOPED_TRACE("ZeroMiBAccepted");
        TempDir dir;
        test::write_all(dir.file("raw"), std::string(1 << 20, '\0'));
        int fd = ::open(dir.file("raw").c_str(), O_RDONLY | O_CLOEXEC);
        auto r = probe_disk_fd(fd);
        ::close(fd);
        ASSERT_TRUE(is_ok(r));
        EXPECT_EQ(r.value().format, DiskFormat::Raw);
        EXPECT_EQ(r.value().virtual_size, 1u << 20);
        EXPECT_EQ(r.value().file_size, 1u << 20);
    }
    {
        SCOPED_TRACE("OneSectorAccepted");
        auto r = probe_disk(std::string(512, 'x'), 512);
        ASSERT_TRUE(is_ok(r));
        EXPECT_EQ(r.value().format, DiskFormat::Raw);
    }
}

TEST(RawProbe, BadProbeArguments)
{
    {
        SCOPED_TRACE("HeadLargerThanFileIsInternalError");
        auto r = probe_disk(std::string(1024, '\0'), 512);
        EXPECT_TRUE(fails_with(r, ErrorKind::Internal));
    }
    {
        SCOPED_TRACE("NotARegularFileRefused");
        int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        auto r = probe_disk_fd(fd);
        ::close(fd);
        EXPECT_TRUE(fails_with(r, ErrorKind::InvalidArgument));
    }
}

}  // namespace
}  // namespace bulwark
