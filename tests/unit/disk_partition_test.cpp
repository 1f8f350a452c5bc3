// read_partition_table: disks partitioned by sfdisk, compared with what sfdisk itself reads
// back (sfdisk --json); then damaged and hostile tables.
#include <zlib.h>

#include <functional>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "disk/fs_detect.h"
#include "disk/partition.h"
#include "disk/qcow2.h"
#include "disk_test_util.h"

namespace bulwark::disk {
namespace {

using test::fails_with;
using test::is_ok;
using test::TempDir;

std::string lower(std::string s)
{
    for (auto& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

class PartitionTest : public ::testing::Test {
protected:
    TempDir m_dir;

    // A sparse disk image of `size` bytes partitioned by sfdisk with `script`.
    std::string partitioned(const std::string& name, uint64_t size, const std::string& script)
    {
        std::string p = m_dir.file(name);
        test::run_tool({ "truncate", "-s", std::to_string(size), p });
        test::run_tool_with_stdin({ "sfdisk", "-q", "--no-reread", "--no-tell-kernel", p }, script, m_dir);
        return p;
    }

    static Result<PartitionTable> read_table(const std::string& p)
    {
        auto file = RawFile::open(p);
        if (file.is_error())
            return file.release_error();
        return read_partition_table(*file.value());
    }

    Result<PartitionTable> read_bytes(const std::string& bytes)
    {
        std::string p = m_dir.file("patched.img");
        test::write_all(p, bytes);
        return read_table(p);
    }

    // What sfdisk reads from the image.
    static nlohmann::json sfdisk_json(const std::string& p)
    {
        auto out = test::run_tool({ "sfdisk", "--json", p });
        return nlohmann::json::parse(out)["partitiontable"];
    }

    // Our table must say what sfdisk says, partition by partition.
    static void expect_same_as_sfdisk(const PartitionTable& table, const std::string& p)
    {
        auto j = sfdisk_json(p);
        auto parts = j["partitions"];
        ASSERT_EQ(table.partitions.size(), parts.size());
        for (size_t i = 0; i < parts.size(); ++i) {
            const auto& want = parts[i];
            const Partition& got = table.partitions[i];
            std::string node = want["node"];
            SCOPED_TRACE(node);
            EXPECT_EQ(std::to_string(got.index), node.substr(node.size() > p.size() ? p.size() : 0));
            EXPECT_EQ(got.start, want["start"].get<uint64_t>() * 512);
            EXPECT_EQ(got.size, want["size"].get<uint64_t>() * 512);
            if (table.scheme == PartitionScheme::Gpt) {
                EXPECT_EQ(got.type, lower(want["type"]));
                EXPECT_EQ(got.guid, lower(want["uuid"]));
                EXPECT_EQ(got.name, want.value("name", std::string()));
            } else {
                EXPECT_EQ(got.mbr_type, std::stoi(want["type"].get<std::string>(), nullptr, 16));
                EXPECT_EQ(got.bootable, want.value("bootable", false));
            }
        }
    }

    static void put_crc(std::string& b, size_t crc_at, size_t from, size_t length)
    {
        test::put_le32(b, crc_at, 0);
        uint32_t crc
            = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(b.data() + from), static_cast<uInt>(length)));
        test::put_le32(b, crc_at, crc);
    }

    // Patches a GPT entry or header field and fixes up both CRCs, so only the limit checks stop it.
    static void patch_gpt(std::string& b, const std::function<void(std::string&)>& patch)
    {
        patch(b);
        uint64_t array = test::le64_at(b, 512 + 72) * 512;
        uint64_t array_bytes = uint64_t(test::le32_at(b, 512 + 80)) * test::le32_at(b, 512 + 84);
        if (array < b.size() && array_bytes <= b.size() - array)
            put_crc(b, 512 + 88, array, array_bytes);
        put_crc(b, 512 + 16, 512, test::le32_at(b, 512 + 12));
    }
};

const char* k_gpt_script = "label: gpt\n"
                           "start=2048, size=4096, type=linux, name=\"root fs\"\n"
                           "start=6144, size=2048, type=uefi, name=\"donn\xc3\xa9"
                           "es \xe2\x9c\x93\", attrs=\"LegacyBIOSBootable\"\n"
                           "start=10240, size=1024, type=swap\n";

const char* k_mbr_script = "label: dos\n"
                           "disk.img1 : start=2048, size=2048, type=83, bootable\n"
                           "disk.img2 : start=4096, size=12288, type=5\n"
                           "disk.img3 : start=16384, size=2048, type=c\n"
                           "disk.img5 : size=1024, type=83\n"
                           "disk.img6 : size=1024, type=82\n"
                           "disk.img7 : size=2048, type=8e\n";

TEST_F(PartitionTest, PartitionTablesMatchSfdisk)
{
    {
        SCOPED_TRACE("Gpt");
        std::string p = partitioned("gpt.img", 8 << 20, k_gpt_script);
        auto table = read_table(p);
        ASSERT_TRUE(is_ok(table));
        EXPECT_EQ(table.value().scheme, PartitionScheme::Gpt);
        EXPECT_FALSE(table.value().gpt_from_backup);
        EXPECT_EQ(table.value().disk_guid, lower(sfdisk_json(p)["id"]));
        expect_same_as_sfdisk(table.value(), p);
        ASSERT_EQ(table.value().partitions.size(), 3u);
        EXPECT_EQ(table.value().partitions[0].type, "0fc63daf-8483-4772-8e79-3d69d8477de4");
        EXPECT_EQ(table.value().partitions[1].name,
            "donn\xc3\xa9"
            "es \xe2\x9c\x93");
        EXPECT_TRUE(table.value().partitions[1].bootable);
        EXPECT_EQ(table.value().partitions[1].attributes, 4u);
    }
    {
        SCOPED_TRACE("MbrWithLogicalPartitions");
        TempDir dir;
        std::string p = dir.file("disk.img");
        test::run_tool({ "truncate", "-s", std::to_string(16 << 20), p });
        test::run_tool_with_stdin({ "sfdisk", "-q", "--no-reread", "--no-tell-kernel", p }, k_mbr_script, dir);
        auto table = read_table(p);
        ASSERT_TRUE(is_ok(table));
        EXPECT_EQ(table.value().scheme, PartitionScheme::Mbr);
        // sfdisk lists the extended partition too; the reader lists what can hold a filesystem.
        auto j = sfdisk_json(p);
        nlohmann::json without_extended = nlohmann::json::array();
        for (const auto& part : j["partitions"]) {
            if (part["type"] != "5")
                without_extended.push_back(part);
        }
        ASSERT_EQ(without_extended.size(), 5u);
        ASSERT_EQ(table.value().partitions.size(), 5u);
        for (size_t i = 0; i < 5; ++i) {
            const auto& got = table.value().partitions[i];
            EXPECT_EQ(got.start, without_extended[i]["start"].get<uint64_t>() * 512);
            EXPECT_EQ(got.size, without_extended[i]["size"].get<uint64_t>() * 512);
            EXPECT_EQ(got.mbr_type, std::stoi(without_extended[i]["type"].get<std::string>(), nullptr, 16));
        }
        std::vector<uint32_t> indexes;
        for (const auto& part : table.value().partitions)
            indexes.push_back(part.index);
        EXPECT_EQ(indexes, (std::vector<uint32_t> { 1, 3, 5, 6, 7 }));
        EXPECT_TRUE(table.value().partitions[0].bootable);
        EXPECT_EQ(table.value().partitions[1].mbr_type, 0x0c);
    }
    {
        SCOPED_TRACE("GptInsideQcow2");
        std::string raw = partitioned("gpt2.img", 8 << 20, k_gpt_script);
        test::write_at(raw, 6144 * 512 + 1000, "hello from partition 2");
        std::string image = m_dir.file("gpt.qcow2");
        test::run_tool({ "qemu-img", "convert", "-q", "-c", "-f", "raw", "-O", "qcow2", raw, image });
        auto disk = open_disk_image(image);
        ASSERT_TRUE(is_ok(disk));
        std::shared_ptr<BlockDevice> shared = disk.release_value();
        auto table = read_partition_table(*shared);
        ASSERT_TRUE(is_ok(table));
        expect_same_as_sfdisk(table.value(), raw);
        auto part = open_partition(shared, table.value().partitions[1]);
        ASSERT_TRUE(is_ok(part));
        EXPECT_EQ(part.value()->size(), 2048u * 512);
        std::string got(22, '\0');
        ASSERT_TRUE(is_ok(part.value()->read_at(1000, std::span(reinterpret_cast<uint8_t*>(got.data()), got.size()))));
        EXPECT_EQ(got, "hello from partition 2");
        // A partition view cannot read past its own end into the next partition.
        uint8_t byte;
        EXPECT_TRUE(fails_with(part.value()->read_at(2048 * 512, std::span(&byte, 1)), ErrorKind::Corrupt));
        EXPECT_EQ(part.value()->stats().bytes_read, 22u);
    }
}

TEST_F(PartitionTest, PartitionlessDisksAreOneWholeDisk)
{
    auto expect_whole = [](const Result<PartitionTable>& table, uint64_t size) {
        ASSERT_TRUE(is_ok(table));
        EXPECT_EQ(table.value().scheme, PartitionScheme::None);
        ASSERT_EQ(table.value().partitions.size(), 1u);
        EXPECT_EQ(table.value().partitions[0].index, 0u);
        EXPECT_EQ(table.value().partitions[0].start, 0u);
        EXPECT_EQ(table.value().partitions[0].size, size);
    };
    {
        SCOPED_TRACE("Blank");
        std::string p = m_dir.file("blank.img");
        test::run_tool({ "truncate", "-s", "1M", p });
        expect_whole(read_table(p), 1 << 20);
        test::write_all(p, "tiny");
        expect_whole(read_table(p), 4);
    }
    {
        SCOPED_TRACE("Ext4OnTheWholeDisk");
        std::string p = m_dir.file("ext4.img");
        test::run_tool({ "mkfs.ext4", "-q", "-F", p, "8M" });
        expect_whole(read_table(p), 8 << 20);
    }
    {
        SCOPED_TRACE("FatBootSectorsAreNotMbrs");
        // A FAT boot sector ends in 0x55 0xAA too.
        for (const char* fat : { "12", "16", "32" }) {
            std::string p = m_dir.file(std::string("fat") + fat + ".img");
            std::string kib = std::string(fat) == "12" ? "4000" : std::string(fat) == "16" ? "20000" : "40000";
            test::run_tool({ "mkfs.vfat", "-F", fat, "-C", p, kib });
            auto file = RawFile::open(p);
            ASSERT_TRUE(is_ok(file));
            expect_whole(read_partition_table(*file.value()), file.value()->size());
            auto kind = detect_filesystem(*file.value());
            ASSERT_TRUE(is_ok(kind));
            EXPECT_EQ(kind.value(), FsKind::Vfat) << fat;
        }
    }
    {
        SCOPED_TRACE("EmptyMbr");
        std::string p = partitioned("empty-mbr.img", 1 << 20, "label: dos\n");
        expect_whole(read_table(p), 1 << 20);
    }
    {
        SCOPED_TRACE("NotAnMbrStatusByte");
        std::string b = test::read_all(partitioned("status.img", 4 << 20, "label: dos\nstart=2048, size=2048, type=83\n"));
        b[446] = 0x12;
        expect_whole(read_bytes(b), 4 << 20);
    }
}

TEST_F(PartitionTest, PartitionDamagedGpt)
{
    std::string good = test::read_all(partitioned("gpt.img", 8 << 20, k_gpt_script));
    auto expect_backup = [&](const std::string& b) {
        auto table = read_bytes(b);
        ASSERT_TRUE(is_ok(table));
        EXPECT_TRUE(table.value().gpt_from_backup);
        ASSERT_EQ(table.value().partitions.size(), 3u);
        EXPECT_EQ(table.value().partitions[0].start, 2048u * 512);
        EXPECT_EQ(table.value().partitions[1].name,
            "donn\xc3\xa9"
            "es \xe2\x9c\x93");
    };
    uint64_t last = good.size() - 512;
    {
        SCOPED_TRACE("PrimaryHeaderCrcBadBackupUsed");
        std::string b = good;
        b[512 + 40] ^= 1;
        expect_backup(b);
    }
    {
        SCOPED_TRACE("PrimaryEntryArrayCrcBadBackupUsed");
        std::string b = good;
        b[1024 + 56] ^= 1; // a byte of the first entry's name
        expect_backup(b);
    }
    {
        SCOPED_TRACE("PrimaryMissingBackupUsed");
        std::string b = good;
        std::fill(b.begin() + 512, b.begin() + 1024, '\0');
        expect_backup(b);
    }
    {
        SCOPED_TRACE("BothHeadersBadRefused");
        std::string b = good;
        b[512 + 40] ^= 1;
        b[last + 40] ^= 1;
        auto r = read_bytes(b);
        ASSERT_TRUE(fails_with(r, ErrorKind::Corrupt));
        EXPECT_NE(r.error().message().find("CRC32"), std::string::npos) << r.error().message();
    }
    {
        SCOPED_TRACE("ProtectiveMbrWithoutGpt");
        std::string b = good;
        std::fill(b.begin() + 512, b.begin() + 1024, '\0');
        std::fill(b.begin() + static_cast<ptrdiff_t>(last), b.end(), '\0');
        EXPECT_TRUE(fails_with(read_bytes(b), ErrorKind::Corrupt));
    }
    {
        SCOPED_TRACE("TruncatedDiskRefused");
        // Partitions and the usable range now run past the end; the backup header is gone.
        EXPECT_TRUE(fails_with(read_bytes(good.substr(0, 4 << 20)), ErrorKind::Corrupt));
    }
    struct Case {
        const char* what;
        std::function<void(std::string&)> patch;
    };
    const std::vector<Case> cases {
        { "entry count over the limit", [](std::string& b) { test::put_le32(b, 512 + 80, 100000); } },
        { "entry array over 1 MiB",
            [](std::string& b) {
                test::put_le32(b, 512 + 80, 4096);
                test::put_le32(b, 512 + 84, 1024);
            } },
        { "entry size 100", [](std::string& b) { test::put_le32(b, 512 + 84, 100); } },
        { "entry size 0", [](std::string& b) { test::put_le32(b, 512 + 84, 0); } },
        { "entry array past the end", [](std::string& b) { test::put_le64(b, 512 + 72, 1ULL << 40); } },
        { "entry array LBA overflows", [](std::string& b) { test::put_le64(b, 512 + 72, ~0ULL >> 8); } },
        { "header size 1000", [](std::string& b) { test::put_le32(b, 512 + 12, 1000); } },
        { "header names another LBA", [](std::string& b) { test::put_le64(b, 512 + 24, 7); } },
        { "usable range past the end", [](std::string& b) { test::put_le64(b, 512 + 48, 1ULL << 40); } },
        { "partition past the usable range", [](std::string& b) { test::put_le64(b, 1024 + 40, (8 << 20) / 512); } },
        { "partition ends before it starts", [](std::string& b) { test::put_le64(b, 1024 + 40, 100); } },
    };
    for (const auto& c : cases) {
        std::string b = good;
        patch_gpt(b, c.patch);
        std::fill(b.begin() + static_cast<ptrdiff_t>(last), b.end(), '\0'); // no backup to fall back on
        EXPECT_TRUE(fails_with(read_bytes(b), ErrorKind::Corrupt)) << c.what;
    }
}

TEST_F(PartitionTest, PartitionDamagedMbr)
{
    TempDir dir;
    std::string p = dir.file("disk.img");
    test::run_tool({ "truncate", "-s", std::to_string(16 << 20), p });
    test::run_tool_with_stdin({ "sfdisk", "-q", "--no-reread", "--no-tell-kernel", p }, k_mbr_script, dir);
    std::string good = test::read_all(p);
    uint64_t ext = 4096;
    uint64_t first_ebr = ext * 512;
    uint32_t second_link = test::le32_at(good, first_ebr + 446 + 16 + 8);
    ASSERT_GT(second_link, 0u);
    {
        SCOPED_TRACE("ExtendedChainLoops");
        for (uint32_t target : { 0u, second_link }) {
            // The second EBR's link points back at the first (0), or at itself.
            std::string b = good;
            uint64_t second_ebr = (ext + second_link) * 512;
            test::put_le32(b, second_ebr + 446 + 16 + 8, target);
            test::put_le32(b, second_ebr + 446 + 16 + 12, 100);
            b[second_ebr + 446 + 16 + 4] = 0x05;
            auto r = read_bytes(b);
            ASSERT_TRUE(fails_with(r, ErrorKind::Corrupt)) << target;
            EXPECT_NE(r.error().message().find("loops"), std::string::npos) << r.error().message();
        }
    }
    {
        SCOPED_TRACE("TooManyLogicalPartitions");
        // 200 EBRs, each with a one-sector logical partition and a link to the next.
        std::string b(64 << 20, '\0');
        b.replace(0, 512, good.substr(0, 512));
        test::put_le32(b, 446 + 16 + 8, 4096);
        test::put_le32(b, 446 + 16 + 12, 1000);
        for (uint32_t i = 0; i < 200; ++i) {
            uint64_t ebr = (4096 + 2 * i) * 512;
            b[ebr + 446 + 4] = static_cast<char>(0x83);
            test::put_le32(b, ebr + 446 + 8, 1);
            test::put_le32(b, ebr + 446 + 12, 1);
            b[ebr + 446 + 16 + 4] = 0x05;
            test::put_le32(b, ebr + 446 + 16 + 8, 2 * (i + 1));
            test::put_le32(b, ebr + 446 + 16 + 12, 2);
            b[ebr + 510] = 0x55;
            b[ebr + 511] = static_cast<char>(0xAA);
        }
        auto r = read_bytes(b);
        ASSERT_TRUE(fails_with(r, ErrorKind::Corrupt));
        EXPECT_NE(r.error().message().find("more than 128"), std::string::npos) << r.error().message();
    }
    struct Case {
        const char* what;
        std::function<void(std::string&)> patch;
    };
    const std::vector<Case> cases {
        { "primary past the end", [](std::string& b) { test::put_le32(b, 446 + 12, 0x7fffffff); } },
        { "primary at sector 0", [](std::string& b) { test::put_le32(b, 446 + 8, 0); } },
        { "extended past the end", [](std::string& b) { test::put_le32(b, 446 + 16 + 12, 0xffffffff); } },
        { "logical outside its extended partition", [&](std::string& b) { test::put_le32(b, first_ebr + 446 + 12, 1 << 20); } },
        { "link outside its extended partition", [&](std::string& b) { test::put_le32(b, first_ebr + 446 + 16 + 8, 1 << 20); } },
    };
    for (const auto& c : cases) {
        std::string b = good;
        c.patch(b);
        EXPECT_TRUE(fails_with(read_bytes(b), ErrorKind::Corrupt)) << c.what;
    }
    {
        SCOPED_TRACE("TruncatedDisk");
        EXPECT_TRUE(fails_with(read_bytes(good.substr(0, 8 << 20)), ErrorKind::Corrupt));
    }
}

} // namespace
} // namespace bulwark::disk
