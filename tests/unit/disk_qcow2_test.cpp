// Qcow2Reader: images made by qemu-img and qemu-io, read through the reader and compared byte
// for byte with `qemu-img convert -O raw`; then hostile variants made by patching real images.
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <gtest/gtest.h>
#include <map>

#include "disk/qcow2.h"
#include "disk_test_util.h"
#include "image/overlay.h"

namespace bulwark::disk {
namespace {

using test::fails_with;
using test::is_ok;
using test::TempDir;

constexpr uint64_t k_source_size = 4 << 20;

// The guest disk every image starts from: data that does not compress, data that does, zeros,
// data that ends mid-cluster, data across the 2 MiB line, and a last sector of data.
std::string source_bytes()
{
    std::string s(k_source_size, '\0');
    s.replace(0, 256 << 10, test::pseudo_random_bytes(256 << 10, 1));
    for (size_t off = 256 << 10; off < (640 << 10); off += 64)
        s.replace(off, 64, "golden image line " + std::to_string(off) + std::string(64, '.'), 0, 64);
    s.replace(1 << 20, 100000, test::pseudo_random_bytes(100000, 2));
    s.replace((2 << 20) - 4096, 8192, test::pseudo_random_bytes(8192, 3));
    s.replace(k_source_size - 512, 512, test::pseudo_random_bytes(512, 4));
    return s;
}

class Qcow2Test : public ::testing::Test {
protected:
    static void SetUpTestSuite() { s_dir = new TempDir(); }
    static void TearDownTestSuite()
    {
        delete s_dir;
        s_dir = nullptr;
    }

    static std::string path(const std::string& name) { return s_dir->file(name); }

    static const std::string& source()
    {
        static const std::string bytes = source_bytes();
        return bytes;
    }

    static std::string source_path()
    {
        std::string p = path("source.raw");
        if (!sys::exists(p))
            test::write_all(p, source());
        return p;
    }

    // source.raw converted to qcow2 with extra qemu-img convert arguments, made once.
    static std::string converted(const std::string& name, std::vector<std::string> extra)
    {
        std::string p = path(name);
        if (!sys::exists(p)) {
            std::vector<std::string> argv { "qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2" };
            argv.insert(argv.end(), extra.begin(), extra.end());
            argv.push_back(source_path());
            argv.push_back(p);
            test::run_tool(argv);
        }
        return p;
    }

    static std::string default_image() { return converted("v3.qcow2", {}); }

    // What qemu-img itself reads from an image.
    static std::string qemu_raw(const std::string& image)
    {
        std::string out = image + ".raw";
        test::run_tool({ "qemu-img", "convert", "-q", "-O", "raw", image, out });
        std::string bytes = test::read_all(out);
        ::unlink(out.c_str());
        return bytes;
    }

    static void qemu_io(const std::string& image, const std::string& command)
    {
        test::run_tool({ "qemu-io", "-f", "qcow2", "-c", command, image });
    }

    static Result<std::unique_ptr<BlockDevice>> open_path(const std::string& p, const Qcow2Options& options = {})
    {
        return open_disk_image(p, options);
    }

    // The bytes written to a file of their own, opened as an image.
    static Result<std::unique_ptr<BlockDevice>> open_bytes(const std::string& bytes, const Qcow2Options& options = {})
    {
        static int counter = 0;
        std::string p = path("patched" + std::to_string(counter++) + ".qcow2");
        test::write_all(p, bytes);
        return open_disk_image(p, options);
    }

    static Result<std::unique_ptr<BlockDevice>> open_patched(
        const std::string& image, const std::function<void(std::string&)>& patch, const Qcow2Options& options = {})
    {
        std::string bytes = test::read_all(image);
        patch(bytes);
        return open_bytes(bytes, options);
    }

    static Qcow2Options in_dir()
    {
        Qcow2Options options;
        options.resolve_backing = backing_files_in(s_dir->path());
        return options;
    }

    // Host offsets of an image's first L2 table and of the cluster guest offset 0 maps to.
    static uint64_t l1_offset(const std::string& b) { return test::be64_at(b, 40); }
    static uint64_t first_l2(const std::string& b) { return test::be64_at(b, l1_offset(b)) & 0x00fffffffffffe00ULL; }

    // How many clusters an image stores compressed (standard 64-bit L2 entries).
    static uint64_t compressed_clusters(const std::string& image)
    {
        std::string b = test::read_all(image);
        uint32_t cluster_size = 1u << test::be32_at(b, 20);
        uint32_t l1_size = test::be32_at(b, 36);
        uint64_t count = 0;
        for (uint32_t i = 0; i < l1_size; ++i) {
            uint64_t l2 = test::be64_at(b, l1_offset(b) + 8 * i) & 0x00fffffffffffe00ULL;
            for (uint64_t j = 0; l2 && j < cluster_size / 8; ++j)
                count += (test::be64_at(b, l2 + 8 * j) >> 62) & 1;
        }
        return count;
    }

    static inline TempDir* s_dir = nullptr;
};

TEST_F(Qcow2Test, Qcow2ReadsMatchQemu)
{
    struct Variant {
        const char* name;
        std::vector<std::string> args;
        uint32_t version;
        uint32_t cluster_size;
        Qcow2Compression compression;
        bool extended_l2;
    };
    const std::vector<Variant> variants {
        { "v3.qcow2", {}, 3, 65536, Qcow2Compression::Zlib, false },
        { "v2.qcow2", { "-o", "compat=0.10" }, 2, 65536, Qcow2Compression::Zlib, false },
        { "c512.qcow2", { "-o", "cluster_size=512" }, 3, 512, Qcow2Compression::Zlib, false },
        { "c2m.qcow2", { "-o", "cluster_size=2M" }, 3, 2 << 20, Qcow2Compression::Zlib, false },
        { "extl2.qcow2", { "-o", "extended_l2=on" }, 3, 65536, Qcow2Compression::Zlib, true },
        { "zlib.qcow2", { "-c" }, 3, 65536, Qcow2Compression::Zlib, false },
        { "zlib-v2.qcow2", { "-c", "-o", "compat=0.10,cluster_size=4096" }, 2, 4096, Qcow2Compression::Zlib, false },
        { "zstd.qcow2", { "-c", "-o", "compression_type=zstd" }, 3, 65536, Qcow2Compression::Zstd, false },
        { "zstd512.qcow2", { "-c", "-o", "compression_type=zstd,cluster_size=512" }, 3, 512, Qcow2Compression::Zstd, false },
        { "zstd2m.qcow2", { "-c", "-o", "compression_type=zstd,cluster_size=2M" }, 3, 2 << 20, Qcow2Compression::Zstd, false },
    };
    for (const auto& v : variants) {
        SCOPED_TRACE(v.name);
        std::string image = converted(v.name, v.args);
        auto device = open_path(image);
        ASSERT_TRUE(is_ok(device));
        auto* reader = dynamic_cast<Qcow2Reader*>(device.value().get());
        ASSERT_NE(reader, nullptr);
        EXPECT_EQ(reader->version(), v.version);
        EXPECT_EQ(reader->cluster_size(), v.cluster_size);
        EXPECT_EQ(reader->compression(), v.compression);
        EXPECT_EQ(reader->extended_l2(), v.extended_l2);
        EXPECT_EQ(reader->size(), k_source_size);
        if (!v.extended_l2) {
            bool compressed = std::find(v.args.begin(), v.args.end(), "-c") != v.args.end();
            EXPECT_EQ(compressed_clusters(image) > 0, compressed);
        }
        auto bytes = test::read_device(*reader);
        ASSERT_TRUE(is_ok(bytes));
        EXPECT_TRUE(bytes.value() == source()) << "reader differs from the source image";
        EXPECT_TRUE(bytes.value() == qemu_raw(image)) << "reader differs from qemu-img convert";

        // Reads of every size at scattered offsets, as a filesystem makes them.
        uint64_t state = 7;
        for (int i = 0; i < 300; ++i) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            uint64_t off = (state >> 11) % k_source_size;
            uint64_t len = std::min<uint64_t>((state >> 40) % 200000 + 1, k_source_size - off);
            std::string got(len, '\0');
            ASSERT_TRUE(is_ok(reader->read_at(off, std::span(reinterpret_cast<uint8_t*>(got.data()), len))));
            ASSERT_TRUE(got == source().substr(off, len)) << "offset " << off << " length " << len;
        }
        // Past the end is refused, not zero-filled.
        uint8_t byte = 0;
        EXPECT_TRUE(fails_with(reader->read_at(k_source_size, std::span(&byte, 1)), ErrorKind::Corrupt));
    }
}

TEST_F(Qcow2Test, Qcow2ZeroClustersAndOddSizes)
{
    {
        SCOPED_TRACE("ZeroClusters");
        // write -z on allocated clusters sets the zero flag (v3): they must read as zeros.
        std::string image = path("zeroed.qcow2");
        test::write_all(image, test::read_all(default_image()));
        qemu_io(image, "write -z 0 64k");
        qemu_io(image, "write -z -u 128k 64k");
        auto device = open_path(image);
        ASSERT_TRUE(is_ok(device));
        auto bytes = test::read_device(*device.value());
        ASSERT_TRUE(is_ok(bytes));
        std::string expected = source();
        std::fill(expected.begin(), expected.begin() + (64 << 10), '\0');
        std::fill(expected.begin() + (128 << 10), expected.begin() + (192 << 10), '\0');
        EXPECT_TRUE(bytes.value() == expected);
        EXPECT_TRUE(bytes.value() == qemu_raw(image));
    }
    {
        SCOPED_TRACE("ExtendedL2Subclusters");
        // 2 KiB subclusters: a 4 KiB write allocates two of them, the rest stay unallocated.
        std::string image = path("subclusters.qcow2");
        test::run_tool({ "qemu-img", "create", "-q", "-f", "qcow2", "-o", "extended_l2=on", image, "1M" });
        qemu_io(image, "write -P 0x61 6k 4k");
        qemu_io(image, "write -z 64k 2k");
        qemu_io(image, "write -P 0x62 130k 1k");
        auto device = open_path(image);
        ASSERT_TRUE(is_ok(device));
        auto bytes = test::read_device(*device.value(), 777);
        ASSERT_TRUE(is_ok(bytes));
        EXPECT_TRUE(bytes.value() == qemu_raw(image));
        EXPECT_EQ(bytes.value()[6 << 10], 0x61);
        EXPECT_EQ(bytes.value()[130 << 10], 0x62);
    }
    {
        SCOPED_TRACE("UnalignedVirtualSize");
        std::string image = path("odd.qcow2");
        test::run_tool({ "qemu-img", "create", "-q", "-f", "qcow2", image, "1000001" });
        qemu_io(image, "write -P 0x55 999936 512");
        auto device = open_path(image);
        ASSERT_TRUE(is_ok(device));
        EXPECT_EQ(device.value()->size(), 1000448u);
        auto bytes = test::read_device(*device.value(), 4096);
        ASSERT_TRUE(is_ok(bytes));
        EXPECT_TRUE(bytes.value() == qemu_raw(image));
        EXPECT_EQ(static_cast<uint8_t>(bytes.value().back()), 0x55);
    }
}

TEST_F(Qcow2Test, Qcow2SmallL2CacheAndByteCounts)
{
    // 512-byte clusters: an L2 table maps 32 KiB, so a 4 MiB read goes through 128 tables
    // with room for only two in the cache.
    std::string image = converted("c512.qcow2", { "-o", "cluster_size=512" });
    Qcow2Options options;
    options.l2_cache_bytes = 0;
    auto device = open_path(image, options);
    ASSERT_TRUE(is_ok(device));
    auto* reader = dynamic_cast<Qcow2Reader*>(device.value().get());
    ASSERT_NE(reader, nullptr);
    reader->file().reset_stats();
    auto bytes = test::read_device(*reader, 3000);
    ASSERT_TRUE(is_ok(bytes));
    EXPECT_TRUE(bytes.value() == source());
    // Every byte asked for is counted once; the host file was read for data and tables.
    EXPECT_EQ(reader->stats().bytes_read, k_source_size);
    EXPECT_EQ(reader->stats().reads, (k_source_size + 2999) / 3000);
    EXPECT_GT(reader->file().stats().bytes_read, 0u);
    EXPECT_GT(reader->file().stats().reads, 128u);
}

TEST_F(Qcow2Test, Qcow2BackingChains)
{
    std::string base = converted("base.qcow2", {});
    {
        SCOPED_TRACE("OverlayDataWinsOverBacking");
        std::string overlay = path("overlay.qcow2");
        test::run_tool({ "qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", overlay });
        qemu_io(overlay, "write -P 0x41 0 64k");
        auto device = open_path(overlay, in_dir());
        ASSERT_TRUE(is_ok(device));
        auto* reader = dynamic_cast<Qcow2Reader*>(device.value().get());
        ASSERT_NE(reader, nullptr);
        EXPECT_EQ(reader->backing_name(), "base.qcow2");
        ASSERT_NE(reader->backing(), nullptr);
        auto bytes = test::read_device(*reader);
        ASSERT_TRUE(is_ok(bytes));
        std::string expected = source();
        std::fill(expected.begin(), expected.begin() + (64 << 10), 'A');
        EXPECT_TRUE(bytes.value() == expected);
        EXPECT_TRUE(bytes.value() == qemu_raw(overlay));
        // The backing file served everything the overlay did not hold.
        EXPECT_GT(reader->backing()->stats().bytes_read, k_source_size / 2);
    }
    {
        SCOPED_TRACE("ThreeLevelsRawAtTheBottomAbsoluteNames");
        std::string mid = path("mid.qcow2");
        std::string top = path("top.qcow2");
        test::run_tool({ "qemu-img", "create", "-q", "-f", "qcow2", "-b", source_path(), "-F", "raw", mid });
        qemu_io(mid, "write -P 0x42 1M 100k");
        // The top overlay is larger than its backing file: the rest reads as zeros.
        test::run_tool({ "qemu-img", "create", "-q", "-f", "qcow2", "-b", mid, "-F", "qcow2", top, "6M" });
        qemu_io(top, "write -P 0x43 2040k 16k");
        qemu_io(top, "write -P 0x44 5M 4k");
        auto device = open_path(top, in_dir());
        ASSERT_TRUE(is_ok(device));
        EXPECT_EQ(device.value()->size(), 6u << 20);
        auto bytes = test::read_device(*device.value());
        ASSERT_TRUE(is_ok(bytes));
        EXPECT_TRUE(bytes.value() == qemu_raw(top));
        EXPECT_EQ(bytes.value()[(1 << 20) + 5], 0x42);
        EXPECT_EQ(bytes.value()[(2040 << 10) + 5], 0x43);
        EXPECT_EQ(bytes.value()[(5 << 20) + 5], 0x44);
        EXPECT_EQ(bytes.value()[(4 << 20) + 5], 0);
    }
    {
        SCOPED_TRACE("BulwarkOwnOverlay");
        // The overlay bulwarkd writes for a guest (src/image/overlay.cpp), over a golden image.
        std::string overlay = path("guest.qcow2");
        ASSERT_TRUE(is_ok(create_qcow2_overlay(overlay, base, k_source_size, 0600)));
        auto device = open_path(overlay, in_dir());
        ASSERT_TRUE(is_ok(device));
        auto bytes = test::read_device(*device.value());
        ASSERT_TRUE(is_ok(bytes));
        EXPECT_TRUE(bytes.value() == source());
    }
}

TEST_F(Qcow2Test, Qcow2BackingFilesRefused)
{
    std::string base = converted("base.qcow2", {});
    std::string overlay = path("plain-overlay.qcow2");
    if (!sys::exists(overlay))
        test::run_tool({ "qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", overlay });
    {
        SCOPED_TRACE("NoResolverNoBackingFile");
        auto r = open_path(overlay);
        ASSERT_TRUE(fails_with(r, ErrorKind::Denied));
        EXPECT_NE(r.error().message().find("base.qcow2"), std::string::npos) << r.error().message();
    }
    {
        SCOPED_TRACE("OutsideTheAllowedDirectory");
        TempDir other;
        Qcow2Options options;
        options.resolve_backing = backing_files_in(other.path());
        EXPECT_TRUE(fails_with(open_path(overlay, options), ErrorKind::NotFound));
        // An absolute name elsewhere, and names that climb out with ".." or a symlink.
        std::string abs = other.file("abs.qcow2");
        test::run_tool({ "qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", abs });
        EXPECT_TRUE(fails_with(open_path(abs, options), ErrorKind::Denied));
        std::string dotdot = other.file("dotdot.qcow2");
        std::string climb = "../" + sys::basename(s_dir->path()) + "/base.qcow2";
        test::run_tool({ "qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", climb, "-F", "qcow2", dotdot, "4M" });
        EXPECT_TRUE(fails_with(open_path(dotdot, options), ErrorKind::Denied));
        ASSERT_EQ(::symlink(base.c_str(), other.file("link.qcow2").c_str()), 0);
        std::string via_link = other.file("via-link.qcow2");
        test::run_tool({ "qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "link.qcow2", "-F", "qcow2", via_link, "4M" });
        EXPECT_TRUE(fails_with(open_path(via_link, options), ErrorKind::Denied));
    }
    {
        SCOPED_TRACE("MissingBackingFile");
        std::string p = path("missing-backing.qcow2");
        test::run_tool({ "qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "nothere.qcow2", "-F", "qcow2", p, "1M" });
        EXPECT_TRUE(fails_with(open_path(p, in_dir()), ErrorKind::NotFound));
    }
    {
        SCOPED_TRACE("BackingLoop");
        std::string a = path("loop-a.qcow2");
        std::string b = path("loop-b.qcow2");
        test::run_tool({ "qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "loop-b.qcow2", "-F", "qcow2", a, "1M" });
        test::run_tool({ "qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "loop-a.qcow2", "-F", "qcow2", b, "1M" });
        auto r = open_path(a, in_dir());
        ASSERT_TRUE(fails_with(r, ErrorKind::Corrupt));
        EXPECT_NE(r.error().message().find("loops"), std::string::npos) << r.error().message();
        // An image that names itself.
        std::string self = path("self.qcow2");
        test::run_tool({ "qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "self.qcow2", "-F", "qcow2", self, "1M" });
        EXPECT_TRUE(fails_with(open_path(self, in_dir()), ErrorKind::Corrupt));
    }
    {
        SCOPED_TRACE("ChainDepthLimit");
        std::string below = "base.qcow2";
        for (int i = 0; i < 5; ++i) {
            std::string name = "chain" + std::to_string(i) + ".qcow2";
            test::run_tool({ "qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", below, "-F", "qcow2", path(name), "4M" });
            below = name;
        }
        Qcow2Options options = in_dir();
        options.max_chain_depth = 6; // chain4 .. chain0, base: six images
        EXPECT_TRUE(is_ok(open_path(path(below), options)));
        options.max_chain_depth = 5;
        auto r = open_path(path(below), options);
        ASSERT_TRUE(fails_with(r, ErrorKind::Corrupt));
        EXPECT_NE(r.error().message().find("longer than 5"), std::string::npos) << r.error().message();
    }
    {
        SCOPED_TRACE("BackingFormatNotNamedOrUnsupported");
        std::string bytes = test::read_all(overlay);
        size_t ext = 112; // qemu-img writes the backing format extension right after the header
        ASSERT_EQ(test::be32_at(bytes, ext), 0xE2792ACAu);
        auto unnamed = open_patched(
            overlay, [&](std::string& b) { test::put_be32_at(b, ext, 0x12345678); }, in_dir());
        EXPECT_TRUE(fails_with(unnamed, ErrorKind::Denied));
        auto vmdk = open_patched(
            overlay,
            [&](std::string& b) {
                test::put_be32_at(b, ext + 4, 4);
                b.replace(ext + 8, 4, "vmdk");
            },
            in_dir());
        EXPECT_TRUE(fails_with(vmdk, ErrorKind::Denied));
        auto long_name = open_patched(
            overlay, [&](std::string& b) { test::put_be32_at(b, ext + 4, 16); }, in_dir());
        EXPECT_TRUE(fails_with(long_name, ErrorKind::Corrupt));
        auto overflow = open_patched(
            overlay, [&](std::string& b) { test::put_be32_at(b, ext + 4, 0xfffffff0u); }, in_dir());
        EXPECT_TRUE(fails_with(overflow, ErrorKind::Corrupt));
    }
    {
        SCOPED_TRACE("BadBackingNames");
        for (uint32_t len : { 0u, 1024u, 70000u }) {
            auto r = open_patched(
                overlay, [&](std::string& b) { test::put_be32_at(b, 16, len); }, in_dir());
            EXPECT_TRUE(fails_with(r, ErrorKind::Corrupt)) << len;
        }
        auto past = open_patched(
            overlay, [&](std::string& b) { test::put_be64_at(b, 8, 65530); }, in_dir());
        EXPECT_TRUE(fails_with(past, ErrorKind::Corrupt));
        auto nul = open_patched(
            overlay, [&](std::string& b) { b[test::be64_at(b, 8) + 2] = '\0'; }, in_dir());
        EXPECT_TRUE(fails_with(nul, ErrorKind::Corrupt));
    }
}

TEST_F(Qcow2Test, Qcow2HostileHeadersRefused)
{
    std::string image = default_image();
    std::string bytes = test::read_all(image);
    struct Case {
        const char* what;
        std::function<void(std::string&)> patch;
        ErrorKind kind;
    };
    const std::vector<Case> cases {
        { "bad magic", [](std::string& b) { b[3] = 'x'; }, ErrorKind::Corrupt }, // see below
        { "version 1", [](std::string& b) { test::put_be32_at(b, 4, 1); }, ErrorKind::Corrupt },
        { "version 4", [](std::string& b) { test::put_be32_at(b, 4, 4); }, ErrorKind::Corrupt },
        { "cluster bits 8", [](std::string& b) { test::put_be32_at(b, 20, 8); }, ErrorKind::Corrupt },
        { "cluster bits 22", [](std::string& b) { test::put_be32_at(b, 20, 22); }, ErrorKind::Corrupt },
        { "cluster bits 64", [](std::string& b) { test::put_be32_at(b, 20, 64); }, ErrorKind::Corrupt },
        { "size over 16 TiB", [](std::string& b) { test::put_be64_at(b, 24, (16ULL << 40) + 512); }, ErrorKind::Corrupt },
        { "size 2^63", [](std::string& b) { test::put_be64_at(b, 24, 1ULL << 63); }, ErrorKind::Corrupt },
        { "AES encryption", [](std::string& b) { test::put_be32_at(b, 32, 1); }, ErrorKind::Denied },
        { "LUKS encryption", [](std::string& b) { test::put_be32_at(b, 32, 2); }, ErrorKind::Denied },
        { "corrupt bit", [](std::string& b) { test::put_be64_at(b, 72, 1ULL << 1); }, ErrorKind::Corrupt },
        { "external data file", [](std::string& b) { test::put_be64_at(b, 72, 1ULL << 2); }, ErrorKind::Denied },
        { "unknown feature bit", [](std::string& b) { test::put_be64_at(b, 72, 1ULL << 5); }, ErrorKind::Corrupt },
        { "unknown high feature", [](std::string& b) { test::put_be64_at(b, 72, 1ULL << 63); }, ErrorKind::Corrupt },
        { "compression type 2",
            [](std::string& b) {
                test::put_be64_at(b, 72, 1ULL << 3);
                b[104] = 2;
            },
            ErrorKind::Corrupt },
        { "zstd without its feature bit", [](std::string& b) { b[104] = 1; }, ErrorKind::Corrupt },
        { "extended L2 with 4 KiB clusters",
            [](std::string& b) {
                test::put_be64_at(b, 72, 1ULL << 4);
                test::put_be32_at(b, 20, 12);
            },
            ErrorKind::Corrupt },
        { "header length 0", [](std::string& b) { test::put_be32_at(b, 100, 0); }, ErrorKind::Corrupt },
        { "header length huge", [](std::string& b) { test::put_be32_at(b, 100, 0xfffffff8u); }, ErrorKind::Corrupt },
        { "L1 past the end", [](std::string& b) { test::put_be64_at(b, 40, 1ULL << 40); }, ErrorKind::Corrupt },
        { "L1 offset wraps", [](std::string& b) { test::put_be64_at(b, 40, ~0xffffULL); }, ErrorKind::Corrupt },
        { "L1 unaligned", [](std::string& b) { test::put_be64_at(b, 40, test::be64_at(b, 40) + 8); }, ErrorKind::Corrupt },
        { "L1 too small", [](std::string& b) { test::put_be32_at(b, 36, 0); }, ErrorKind::Corrupt },
        { "L1 over 32 MiB", [](std::string& b) { test::put_be32_at(b, 36, 0xffffffffu); }, ErrorKind::Corrupt },
        { "virtual size needing a larger L1", [](std::string& b) { test::put_be64_at(b, 24, 1ULL << 40); }, ErrorKind::Corrupt },
    };
    for (const auto& c : cases) {
        std::string b = bytes;
        c.patch(b);
        if (std::string(c.what) == "bad magic") {
            // Not qcow2 to open_disk_image, which then reads it as a raw disk; Qcow2Reader
            // itself refuses it.
            std::string p = path("badmagic.img");
            test::write_all(p, b);
            auto file = RawFile::open(p);
            ASSERT_TRUE(is_ok(file));
            EXPECT_TRUE(fails_with(Qcow2Reader::open(file.release_value()), ErrorKind::Corrupt));
            continue;
        }
        EXPECT_TRUE(fails_with(open_bytes(b), c.kind)) << c.what;
    }
    {
        SCOPED_TRACE("TruncatedHeaders");
        for (size_t len : { size_t(4), size_t(20), size_t(71), size_t(72), size_t(103), size_t(112), size_t(4096) }) {
            auto r = open_bytes(bytes.substr(0, len));
            EXPECT_TRUE(fails_with(r, ErrorKind::Corrupt)) << len;
        }
    }
    {
        SCOPED_TRACE("DirtyBitAccepted");
        // Only the refcounts may be stale; the reader never uses them.
        std::string b = bytes;
        test::put_be64_at(b, 72, 1);
        auto r = open_bytes(b);
        ASSERT_TRUE(is_ok(r));
        auto read = test::read_device(*r.value());
        ASSERT_TRUE(is_ok(read));
        EXPECT_TRUE(read.value() == source());
    }
}

TEST_F(Qcow2Test, Qcow2HostileTablesFailReads)
{
    std::string bytes = test::read_all(default_image());
    uint64_t l1 = l1_offset(bytes);
    uint64_t l2 = first_l2(bytes);
    ASSERT_GT(l2, 0u);
    uint64_t data = test::be64_at(bytes, l2) & 0x00fffffffffffe00ULL;
    ASSERT_GT(data, 0u);
    auto read_first = [](BlockDevice& d) {
        std::vector<uint8_t> buf(4096);
        return d.read_at(0, buf);
    };
    struct Case {
        const char* what;
        std::function<void(std::string&)> patch;
    };
    const std::vector<Case> cases {
        { "L1 entry past the end of the file", [&](std::string& b) { test::put_be64_at(b, l1, 1ULL << 40); } },
        { "L1 entry unaligned", [&](std::string& b) { test::put_be64_at(b, l1, l2 + 512); } },
        { "L1 entry just past the end", [&](std::string& b) { test::put_be64_at(b, l1, (b.size() + 0xffff) & ~0xffffULL); } },
        { "L2 entry past the end of the file", [&](std::string& b) { test::put_be64_at(b, l2, (1ULL << 63) | (1ULL << 40)); } },
        { "L2 entry unaligned", [&](std::string& b) { test::put_be64_at(b, l2, (1ULL << 63) | (data + 512)); } },
        { "compressed data past the end", [&](std::string& b) { test::put_be64_at(b, l2, (1ULL << 62) | (1ULL << 40)); } },
        { "compressed data that is not deflate", [&](std::string& b) { test::put_be64_at(b, l2, (1ULL << 62) | 0); } },
    };
    for (const auto& c : cases) {
        std::string b = bytes;
        c.patch(b);
        auto device = open_bytes(b);
        ASSERT_TRUE(is_ok(device)) << c.what;
        EXPECT_TRUE(fails_with(read_first(*device.value()), ErrorKind::Corrupt)) << c.what;
        // The reader stays usable: a read elsewhere still works or fails cleanly.
        std::vector<uint8_t> tail(512);
        (void)device.value()->read_at(k_source_size - 512, tail);
    }
    {
        SCOPED_TRACE("DamagedCompressedClusters");
        for (const char* name : { "zlib.qcow2", "zstd.qcow2" }) {
            std::string image = converted(name,
                std::string(name) == "zlib.qcow2" ? std::vector<std::string> { "-c" }
                                                  : std::vector<std::string> { "-c", "-o", "compression_type=zstd" });
            std::string b = test::read_all(image);
            uint64_t index = 0;
            uint64_t entry = 0;
            for (; index < 8192; ++index) {
                entry = test::be64_at(b, first_l2(b) + 8 * index);
                if (entry & (1ULL << 62))
                    break;
            }
            ASSERT_LT(index, 8192u) << name << ": no compressed cluster";
            uint64_t offset = entry & ((1ULL << 54) - 1); // cluster_bits 16: x = 54
            // Garbage in the middle of the compressed stream.
            for (size_t i = 0; i < 64; ++i)
                b[offset + 16 + i] = static_cast<char>(0xA5 ^ i);
            auto device = open_bytes(b);
            ASSERT_TRUE(is_ok(device)) << name;
            std::vector<uint8_t> buf(4096);
            auto r = device.value()->read_at(index << 16, buf);
            ASSERT_TRUE(fails_with(r, ErrorKind::Corrupt)) << name;
            EXPECT_NE(r.error().message().find("decompress"), std::string::npos) << r.error().message();
            // Cut short: the compressed cluster runs past the end of the file.
            auto cut = open_bytes(b.substr(0, offset + 20));
            ASSERT_TRUE(is_ok(cut)) << name;
            EXPECT_TRUE(fails_with(cut.value()->read_at(index << 16, buf), ErrorKind::Corrupt)) << name;
        }
    }
    {
        SCOPED_TRACE("ExtendedL2BadBitmaps");
        std::string image = converted("extl2.qcow2", { "-o", "extended_l2=on" });
        std::string b = test::read_all(image);
        uint64_t table = first_l2(b);
        auto both = b;
        test::put_be64_at(both, table + 8, 0x0000000100000001ULL); // subcluster 0 allocated and zero
        auto r1 = open_bytes(both);
        ASSERT_TRUE(is_ok(r1));
        EXPECT_TRUE(fails_with(read_first(*r1.value()), ErrorKind::Corrupt));
        auto no_host = b;
        test::put_be64_at(no_host, table, 0); // allocated subclusters but no host cluster
        auto r2 = open_bytes(no_host);
        ASSERT_TRUE(is_ok(r2));
        EXPECT_TRUE(fails_with(read_first(*r2.value()), ErrorKind::Corrupt));
    }
}

} // namespace
} // namespace bulwark::disk
