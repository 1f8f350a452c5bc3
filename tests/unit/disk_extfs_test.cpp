// Filesystem (ext2/3/4 through libext2fs and our io_manager): images populated by
// `mkfs.ext4 -d DIR` from a directory made here, read back and compared with that directory;
// path resolution that must stay inside the image; damaged filesystems made with debugfs and
// byte patches; other formats named, not misread.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <gtest/gtest.h>
#include <map>
#include <set>

#include "disk/filesystem.h"
#include "disk/partition.h"
#include "disk/qcow2.h"
#include "disk_test_util.h"

namespace bulwark::disk {
namespace {

namespace fs = std::filesystem;
using test::fails_with;
using test::is_ok;
using test::TempDir;

constexpr int k_many = 3000; // enough entries for an htree directory
constexpr int k_deep = 20;
constexpr int64_t k_future = 4102444800; // 2100-01-01, past 2038

void make_file(const std::string& path, const std::string& data, mode_t mode = 0644)
{
    test::write_all(path, data);
    ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
}

void set_mtime(const std::string& path, int64_t seconds)
{
    struct timespec times[2] = { { seconds, 0 }, { seconds, 0 } };
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

// The tree every image is made from: what a guest root filesystem has, and the traps.
void make_tree(const std::string& root)
{
    auto p = [&](const std::string& rel) { return root + "/" + rel; };
    for (const char* d : { "etc", "usr/lib/x86_64", "bin", "dir with space", "many" })
        fs::create_directories(p(d));
    make_file(p("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    make_file(p("etc/shadow"), "root:*:19000:0:99999:7:::\n", 0640);
    make_file(p("usr/lib/os-release"), "ID=debian\n");
    make_file(p("usr/lib/x86_64/libc.so.6"), test::pseudo_random_bytes(300000, 11), 0755);
    make_file(p("bin/sh"), test::pseudo_random_bytes((1 << 20) + 123, 12), 0755);
    make_file(p("bin/su"), "setuid\n", 04755);
    make_file(p("empty"), "");
    make_file(p("dir with space/na\xc3\xafve name.txt"), "unicode\n");
    test::write_at(p("sparse"), 4 << 20, "data after a hole");
    ASSERT_EQ(::link(p("etc/passwd").c_str(), p("hardlink").c_str()), 0);
    ASSERT_EQ(::mkfifo(p("fifo").c_str(), 0600), 0);
    struct Link {
        const char* name;
        const char* target;
    };
    std::string slow_target = "/usr/lib/" + std::string(200, 'a');
    for (const auto& l : { Link { "etc/os-release", "../usr/lib/os-release" }, Link { "lib", "usr/lib" },
             Link { "abs-etc", "/etc" }, Link { "escape", "../../../../../etc" }, Link { "dangling", "/nonexistent" },
             Link { "loop1", "loop2" }, Link { "loop2", "loop1" }, Link { "slow", slow_target.c_str() } })
        ASSERT_EQ(::symlink(l.target, p(l.name).c_str()), 0) << l.name;
    std::string deep = p("deep");
    for (int i = 0; i < k_deep; ++i)
        deep += "/d" + std::to_string(i);
    fs::create_directories(deep);
    make_file(deep + "/leaf", "bottom\n");
    for (int i = 0; i < k_many; ++i) {
        char name[16];
        std::snprintf(name, sizeof name, "f%04d", i);
        make_file(p("many/") + name, name);
    }
    make_file(p("future"), "from 2100\n"); // ExtTimesPast2038 moves it there (mke2fs -d keeps 32 bits)
    set_mtime(p("etc/passwd"), 1000000000);
    if (::geteuid() == 0) {
        ASSERT_EQ(::lchown(p("etc/shadow").c_str(), 0, 42), 0);
        ASSERT_EQ(::lchown(p("bin/su").c_str(), 1234, 5678), 0);
        ASSERT_EQ(::lchown(p("dangling").c_str(), 70000, 80000), 0); // ids above 16 bits
    }
}

struct Image {
    std::string path;
    FsKind kind;
};

class ExtFsTest : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        s_dir = new TempDir();
        make_tree(tree());
    }
    static void TearDownTestSuite()
    {
        delete s_dir;
        s_dir = nullptr;
    }

    static std::string tree() { return s_dir->file("tree"); }

    // An image made by mke2fs -d from the tree, once per variant.
    static std::string image(const std::string& name, std::vector<std::string> options, const std::string& size = "64M")
    {
        std::string p = s_dir->file(name);
        if (!sys::exists(p)) {
            std::vector<std::string> argv { "mke2fs", "-q", "-F" };
            argv.insert(argv.end(), options.begin(), options.end());
            argv.insert(argv.end(), { "-d", tree(), p, size });
            test::run_tool(argv);
        }
        return p;
    }

    static std::string ext4() { return image("ext4.img", { "-t", "ext4" }); }

    static Result<std::unique_ptr<Filesystem>> open_fs(const std::string& path)
    {
        auto file = RawFile::open(path);
        if (file.is_error())
            return file.release_error();
        return Filesystem::open(file.release_value());
    }

    static Result<std::unique_ptr<Filesystem>> open_bytes(const std::string& bytes)
    {
        static int counter = 0;
        std::string p = s_dir->file("patched" + std::to_string(counter++) + ".img");
        test::write_all(p, bytes);
        return open_fs(p);
    }

    static std::string copy_image(const std::string& from, const std::string& name)
    {
        std::string p = s_dir->file(name);
        test::write_all(p, test::read_all(from));
        return p;
    }

    static void debugfs(const std::string& image, const std::string& request)
    {
        test::run_tool({ "debugfs", "-w", "-R", request, image });
    }

    // Everything under the tree, as lstat sees it, keyed by image path.
    static std::map<std::string, struct stat> tree_entries()
    {
        std::map<std::string, struct stat> out;
        std::vector<std::string> dirs { "" };
        while (!dirs.empty()) {
            std::string dir = dirs.back();
            dirs.pop_back();
            for (const auto& e : fs::directory_iterator(tree() + dir)) {
                std::string rel = dir + "/" + e.path().filename().string();
                struct stat st { };
                EXPECT_EQ(::lstat(e.path().c_str(), &st), 0);
                out[rel] = st;
                if (S_ISDIR(st.st_mode))
                    dirs.push_back(rel);
            }
        }
        return out;
    }

    static inline TempDir* s_dir = nullptr;
};

// Everything the tree holds reads back the same: walk, stat, read_file, read_link.
void expect_matches_tree(Filesystem& filesystem, const std::map<std::string, struct stat>& want, const std::string& tree_root)
{
    std::map<std::string, WalkEntry> seen;
    auto summary = filesystem.walk([&](const WalkEntry& e) {
        EXPECT_TRUE(seen.emplace(e.path, e).second) << "visited twice: " << e.path;
        return WalkAction::Continue;
    });
    ASSERT_TRUE(is_ok(summary));
    EXPECT_FALSE(summary.value().stopped);
    EXPECT_EQ(summary.value().repeated_dirs, 0u);
    EXPECT_EQ(summary.value().entries, seen.size());
    ASSERT_TRUE(seen.count("/"));
    ASSERT_TRUE(seen.count("/lost+found"));
    EXPECT_EQ(seen.size(), want.size() + 2) << "the walk and the tree differ";
    for (const auto& [path, st] : want) {
        SCOPED_TRACE(path);
        auto it = seen.find(path);
        ASSERT_NE(it, seen.end());
        const FileStat& got = it->second.stat;
        EXPECT_EQ(got.mode, st.st_mode);
        EXPECT_EQ(got.uid, st.st_uid);
        EXPECT_EQ(got.gid, st.st_gid);
        if (!S_ISDIR(st.st_mode)) {
            EXPECT_EQ(got.nlink, st.st_nlink); // directory link counts depend on the source filesystem
        }
        EXPECT_EQ(got.mtime, st.st_mtime);
        // Path lookups scan directories linearly: check a sample of the big one by path.
        if (path.rfind("/many/", 0) == 0 && path.back() != '0')
            continue;
        auto by_path = filesystem.stat(path);
        ASSERT_TRUE(is_ok(by_path));
        EXPECT_EQ(by_path.value().inode, got.inode);
        if (S_ISREG(st.st_mode)) {
            EXPECT_EQ(got.type, FileType::Regular);
            EXPECT_EQ(got.size, static_cast<uint64_t>(st.st_size));
            auto data = filesystem.read_file(path, 8 << 20);
            ASSERT_TRUE(is_ok(data));
            EXPECT_TRUE(data.value() == test::read_all(tree_root + path));
            auto by_inode = filesystem.read_inode(got.inode, 8 << 20);
            ASSERT_TRUE(is_ok(by_inode));
            EXPECT_EQ(by_inode.value().size(), data.value().size());
        } else if (S_ISLNK(st.st_mode)) {
            EXPECT_EQ(got.type, FileType::Symlink);
            auto target = filesystem.read_link(path);
            ASSERT_TRUE(is_ok(target));
            EXPECT_EQ(target.value(), fs::read_symlink(tree_root + path).string());
        } else if (S_ISDIR(st.st_mode)) {
            EXPECT_EQ(got.type, FileType::Directory);
            auto entries = filesystem.list_dir(path);
            ASSERT_TRUE(is_ok(entries));
            std::set<std::string> names;
            for (const auto& e : fs::directory_iterator(tree_root + path))
                names.insert(e.path().filename().string());
            std::vector<std::string> got_names;
            for (const auto& e : entries.value())
                got_names.push_back(e.name);
            EXPECT_EQ(got_names, std::vector<std::string>(names.begin(), names.end()));
        } else if (S_ISFIFO(st.st_mode)) {
            EXPECT_EQ(got.type, FileType::Fifo);
        }
    }
}

TEST_F(ExtFsTest, ExtImagesMatchTheirSourceTree)
{
    struct Variant {
        const char* name;
        std::vector<std::string> options;
        FsKind kind;
    };
    const std::vector<Variant> variants {
        { "ext4.img", { "-t", "ext4" }, FsKind::Ext4 },
        { "ext3.img", { "-t", "ext3" }, FsKind::Ext3 },
        { "ext2.img", { "-t", "ext2" }, FsKind::Ext2 },
        { "ext2-128.img", { "-t", "ext2", "-I", "128", "-b", "1024" }, FsKind::Ext2 },
        { "ext4-inline.img", { "-t", "ext4", "-O", "inline_data", "-b", "1024" }, FsKind::Ext4 },
        { "ext4-64bit-nocsum.img", { "-t", "ext4", "-O", "64bit,^metadata_csum", "-b", "4096" }, FsKind::Ext4 },
    };
    auto want = tree_entries();
    for (const auto& v : variants) {
        SCOPED_TRACE(v.name);
        auto filesystem = open_fs(image(v.name, v.options));
        ASSERT_TRUE(is_ok(filesystem));
        EXPECT_EQ(filesystem.value()->info().kind, v.kind);
        EXPECT_FALSE(filesystem.value()->info().needs_recovery);
        EXPECT_EQ(filesystem.value()->info().uuid.size(), 36u);
        expect_matches_tree(*filesystem.value(), want, tree());
        // The device counted what libext2fs read through it.
        EXPECT_GT(filesystem.value()->device().stats().bytes_read, (1u << 20));
    }
}

TEST_F(ExtFsTest, ExtPathsStayInsideTheImage)
{
    auto opened = open_fs(ext4());
    ASSERT_TRUE(is_ok(opened));
    Filesystem& f = *opened.value();
    const std::string passwd = "root:x:0:0:root:/root:/bin/sh\n";
    auto read = [&](const std::string& path) { return f.read_file(path, 1 << 20); };
    {
        SCOPED_TRACE("SymlinksFollowedInsideTheImage");
        EXPECT_EQ(read("/etc/os-release").value(), "ID=debian\n"); // relative, with ".."
        ASSERT_TRUE(is_ok(read("/lib/x86_64/libc.so.6"))); // an intermediate symlink
        EXPECT_TRUE(read("/lib/x86_64/libc.so.6").value() == test::read_all(tree() + "/usr/lib/x86_64/libc.so.6"));
        EXPECT_EQ(read("/abs-etc/passwd").value(), passwd); // an absolute target: the image's /etc
        EXPECT_EQ(read("/escape/passwd").value(), passwd); // "../../../../../etc" stops at the image root
        EXPECT_EQ(f.stat("/lib").value().type, FileType::Symlink);
        EXPECT_EQ(f.stat_follow("/lib").value().type, FileType::Directory);
        EXPECT_EQ(f.stat_follow("/lib").value().inode, f.stat("/usr/lib").value().inode);
        auto listing = f.list_dir("/lib");
        ASSERT_TRUE(is_ok(listing));
        EXPECT_EQ(listing.value().size(), 2u);
    }
    {
        SCOPED_TRACE("DotDotAtTheRootStaysAtTheRoot");
        for (const char* p : { "/../../etc/passwd", "/etc/../../../etc/./passwd", "//etc//passwd", "/./etc/passwd/" })
            EXPECT_EQ(read(p).value(), passwd) << p;
        EXPECT_EQ(f.stat("/..").value().inode, 2u);
        // ".." after a symlink goes up from where the symlink led, as the kernel does.
        EXPECT_EQ(read("/lib/../lib/os-release").value(), "ID=debian\n");
    }
    {
        SCOPED_TRACE("LinksThatLeadNowhere");
        auto dangling = read("/dangling");
        EXPECT_TRUE(fails_with(dangling, ErrorKind::NotFound));
        EXPECT_EQ(f.stat("/dangling").value().type, FileType::Symlink);
        auto loop = read("/loop1");
        ASSERT_TRUE(fails_with(loop, ErrorKind::NotFound));
        EXPECT_NE(loop.error().message().find("too many levels"), std::string::npos) << loop.error().message();
        EXPECT_TRUE(fails_with(f.stat("/loop1/x"), ErrorKind::NotFound));
        EXPECT_TRUE(is_ok(f.stat("/loop1")));
        EXPECT_EQ(f.read_link("/slow").value(), "/usr/lib/" + std::string(200, 'a'));
    }
    {
        SCOPED_TRACE("Refusals");
        EXPECT_TRUE(fails_with(read("/nonexistent"), ErrorKind::NotFound));
        EXPECT_TRUE(fails_with(read("/etc/passwd/x"), ErrorKind::NotFound));
        EXPECT_TRUE(fails_with(read("etc/passwd"), ErrorKind::InvalidArgument));
        EXPECT_TRUE(fails_with(read(""), ErrorKind::InvalidArgument));
        EXPECT_TRUE(fails_with(read("/" + std::string(5000, 'a')), ErrorKind::InvalidArgument));
        EXPECT_TRUE(fails_with(read("/etc"), ErrorKind::InvalidArgument));
        EXPECT_TRUE(fails_with(read("/fifo"), ErrorKind::InvalidArgument));
        EXPECT_TRUE(fails_with(f.read_file("/bin/sh", 1 << 20), ErrorKind::InvalidArgument));
        EXPECT_TRUE(is_ok(f.read_file("/bin/sh", (1 << 20) + 123)));
        EXPECT_TRUE(fails_with(f.read_link("/etc/passwd"), ErrorKind::InvalidArgument));
        EXPECT_TRUE(fails_with(f.list_dir("/etc/passwd"), ErrorKind::InvalidArgument));
        EXPECT_TRUE(fails_with(f.list_dir("/many", 100), ErrorKind::InvalidArgument));
        EXPECT_TRUE(is_ok(f.list_dir("/many", k_many)));
        EXPECT_TRUE(fails_with(f.stat_inode(0), ErrorKind::Corrupt));
        EXPECT_TRUE(fails_with(f.stat_inode(1ULL << 40), ErrorKind::Corrupt));
    }
    {
        SCOPED_TRACE("SparseAndEmptyFiles");
        auto sparse = f.read_file("/sparse", 8 << 20);
        ASSERT_TRUE(is_ok(sparse));
        EXPECT_EQ(sparse.value().size(), (4u << 20) + 17);
        EXPECT_EQ(sparse.value().substr(4 << 20), "data after a hole");
        EXPECT_EQ(sparse.value().find_first_not_of('\0'), 4u << 20);
        EXPECT_EQ(read("/empty").value(), "");
    }
}

TEST_F(ExtFsTest, ExtWalkLimitsAndActions)
{
    auto opened = open_fs(ext4());
    ASSERT_TRUE(is_ok(opened));
    Filesystem& f = *opened.value();
    {
        SCOPED_TRACE("SkipChildren");
        bool saw_many_child = false;
        uint64_t count = 0;
        auto s = f.walk([&](const WalkEntry& e) {
            ++count;
            saw_many_child = saw_many_child || e.path.rfind("/many/", 0) == 0;
            return e.path == "/many" ? WalkAction::SkipChildren : WalkAction::Continue;
        });
        ASSERT_TRUE(is_ok(s));
        EXPECT_FALSE(saw_many_child);
        EXPECT_EQ(s.value().entries, count);
    }
    {
        SCOPED_TRACE("Stop");
        uint64_t count = 0;
        auto s = f.walk([&](const WalkEntry&) { return ++count == 5 ? WalkAction::Stop : WalkAction::Continue; });
        ASSERT_TRUE(is_ok(s));
        EXPECT_TRUE(s.value().stopped);
        EXPECT_EQ(count, 5u);
    }
    {
        SCOPED_TRACE("PreOrderSortedDepths");
        std::vector<std::string> order;
        ASSERT_TRUE(is_ok(f.walk([&](const WalkEntry& e) {
            if (e.path.rfind("/deep", 0) == 0) {
                EXPECT_EQ(e.depth, static_cast<uint32_t>(std::count(e.path.begin(), e.path.end(), '/')));
                order.push_back(e.path);
            }
            return WalkAction::Continue;
        })));
        ASSERT_EQ(order.size(), static_cast<size_t>(k_deep + 2));
        for (size_t i = 1; i < order.size(); ++i)
            EXPECT_EQ(order[i].rfind(order[i - 1] + "/", 0), 0u) << order[i];
    }
    {
        SCOPED_TRACE("Limits");
        WalkLimits few;
        few.max_entries = 100;
        EXPECT_TRUE(fails_with(f.walk([](const WalkEntry&) { return WalkAction::Continue; }, few), ErrorKind::InvalidArgument));
        WalkLimits shallow;
        shallow.max_depth = 10;
        auto r = f.walk([](const WalkEntry&) { return WalkAction::Continue; }, shallow);
        ASSERT_TRUE(fails_with(r, ErrorKind::InvalidArgument));
        EXPECT_NE(r.error().message().find("/deep/d0/d1"), std::string::npos) << r.error().message();
    }
    {
        SCOPED_TRACE("DirectoryRecordBudget");
        auto file = RawFile::open(ext4());
        ASSERT_TRUE(is_ok(file));
        FsLimits limits;
        limits.max_dir_records = 1000;
        auto limited = Filesystem::open(file.release_value(), limits);
        ASSERT_TRUE(is_ok(limited));
        EXPECT_TRUE(fails_with(limited.value()->list_dir("/many"), ErrorKind::InvalidArgument));
        EXPECT_TRUE(fails_with(limited.value()->stat("/many/f2999"), ErrorKind::InvalidArgument));
        EXPECT_TRUE(is_ok(limited.value()->stat("/etc/passwd")));
    }
}

TEST_F(ExtFsTest, ExtInsideQcow2AndGpt)
{
    // A GPT disk whose second partition holds the ext4 filesystem (mke2fs -E offset), stored
    // as a zstd-compressed qcow2 overlay over a base image: every layer at once.
    std::string raw = s_dir->file("disk.raw");
    test::run_tool({ "truncate", "-s", "80M", raw });
    test::run_tool_with_stdin({ "sfdisk", "-q", "--no-reread", "--no-tell-kernel", raw },
        "label: gpt\nstart=2048, size=2048, type=uefi\nstart=4096, size=131072, type=linux, name=\"root\"\n", *s_dir);
    test::run_tool(
        { "mke2fs", "-q", "-F", "-t", "ext4", "-E", "offset=" + std::to_string(4096 * 512), "-d", tree(), raw, "64M" });
    std::string base = s_dir->file("disk-base.qcow2");
    test::run_tool({ "qemu-img", "convert", "-q", "-c", "-f", "raw", "-O", "qcow2", "-o", "compression_type=zstd", raw, base });
    std::string top = s_dir->file("disk-top.qcow2");
    test::run_tool({ "qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top });

    Qcow2Options options;
    options.resolve_backing = backing_files_in(s_dir->path());
    auto disk = open_disk_image(top, options);
    ASSERT_TRUE(is_ok(disk));
    std::shared_ptr<BlockDevice> shared = disk.release_value();
    auto table = read_partition_table(*shared);
    ASSERT_TRUE(is_ok(table));
    ASSERT_EQ(table.value().partitions.size(), 2u);
    auto part = open_partition(shared, table.value().partitions[1]);
    ASSERT_TRUE(is_ok(part));
    auto kind = detect_filesystem(*part.value());
    ASSERT_TRUE(is_ok(kind));
    EXPECT_EQ(kind.value(), FsKind::Ext4);
    auto filesystem = Filesystem::open(part.release_value());
    ASSERT_TRUE(is_ok(filesystem));
    expect_matches_tree(*filesystem.value(), tree_entries(), tree());
    // The first partition holds nothing.
    auto empty = open_partition(shared, table.value().partitions[0]);
    ASSERT_TRUE(is_ok(empty));
    auto none = Filesystem::open(empty.release_value());
    EXPECT_TRUE(fails_with(none, ErrorKind::NotFound));
}

TEST_F(ExtFsTest, ExtTimesPast2038)
{
    // Large inodes keep two more bits of seconds; 128-byte inodes cannot.
    std::string p = copy_image(ext4(), "times.img");
    debugfs(p, "sif /future mtime @" + std::to_string(k_future));
    auto f = open_fs(p);
    ASSERT_TRUE(is_ok(f));
    EXPECT_EQ(f.value()->stat("/future").value().mtime, k_future);
    EXPECT_EQ(f.value()->stat("/etc/passwd").value().mtime, 1000000000);
    std::string small = copy_image(image("ext2-128.img", { "-t", "ext2", "-I", "128", "-b", "1024" }), "times128.img");
    debugfs(small, "sif /future mtime @" + std::to_string(k_future));
    auto g = open_fs(small);
    ASSERT_TRUE(is_ok(g));
    EXPECT_EQ(g.value()->stat("/future").value().mtime, static_cast<int32_t>(static_cast<uint32_t>(k_future)));
}

TEST_F(ExtFsTest, ExtOtherFormatsNamed)
{
    auto expect_unsupported = [&](const std::string& path, const std::string& name) {
        auto r = open_fs(path);
        ASSERT_TRUE(fails_with(r, ErrorKind::Unavailable)) << name;
        EXPECT_NE(r.error().message().find("unsupported filesystem: " + name), std::string::npos) << r.error().message();
    };
    {
        SCOPED_TRACE("Vfat");
        std::string p = s_dir->file("vfat.img");
        test::run_tool({ "mkfs.vfat", "-C", p, "8192" });
        expect_unsupported(p, "vfat");
    }
    {
        SCOPED_TRACE("Swap");
        std::string p = s_dir->file("swap.img");
        test::run_tool({ "truncate", "-s", "1M", p });
        test::run_tool({ "mkswap", p });
        expect_unsupported(p, "swap");
    }
    struct Magic {
        const char* name;
        uint64_t offset;
        std::string bytes;
    };
    for (const auto& m : { Magic { "xfs", 0, "XFSB" }, Magic { "btrfs", 65600, "_BHRfS_M" },
             Magic { "LUKS", 0, std::string("LUKS\xba\xbe\x00\x02", 8) }, Magic { "LVM2", 512 + 24, "LVM2 001" },
             Magic { "ntfs", 3, "NTFS    " }, Magic { "exfat", 3, "EXFAT   " }, Magic { "squashfs", 0, "hsqs" },
             Magic { "iso9660", 32769, "CD001" } }) {
        SCOPED_TRACE(m.name);
        std::string b(1 << 20, '\0');
        b.replace(m.offset, m.bytes.size(), m.bytes);
        if (std::string(m.name) == "LVM2")
            b.replace(512, 8, "LABELONE");
        std::string p = s_dir->file(std::string(m.name) + ".img");
        test::write_all(p, b);
        expect_unsupported(p, m.name);
    }
    {
        SCOPED_TRACE("NothingAtAll");
        std::string p = s_dir->file("zeros.img");
        test::write_all(p, std::string(1 << 20, '\0'));
        EXPECT_TRUE(fails_with(open_fs(p), ErrorKind::NotFound));
        test::write_all(p, "x");
        EXPECT_TRUE(fails_with(open_fs(p), ErrorKind::NotFound));
    }
}

TEST_F(ExtFsTest, ExtDamagedFilesystems)
{
    std::string good = test::read_all(ext4());
    constexpr size_t sb = 1024;
    {
        SCOPED_TRACE("TruncatedImage");
        auto r = open_bytes(good.substr(0, good.size() / 2));
        ASSERT_TRUE(fails_with(r, ErrorKind::Corrupt));
        EXPECT_NE(r.error().message().find("more than its device holds"), std::string::npos) << r.error().message();
    }
    struct Case {
        const char* what;
        std::function<void(std::string&)> patch;
    };
    const std::vector<Case> cases {
        { "block size 2^30", [](std::string& b) { test::put_le32(b, sb + 24, 20); } },
        { "no blocks per group", [](std::string& b) { test::put_le32(b, sb + 32, 0); } },
        { "no inodes per group", [](std::string& b) { test::put_le32(b, sb + 40, 0); } },
        { "2^40 blocks",
            [](std::string& b) {
                test::put_le32(b, sb + 96, test::le32_at(b, sb + 96) | 0x80);
                test::put_le32(b, sb + 0x150, 256);
            } },
        { "first data block past the end", [](std::string& b) { test::put_le32(b, sb + 20, 0xffffffff); } },
        { "superblock checksum", [](std::string& b) { test::put_le32(b, sb + 0, test::le32_at(b, sb) + 1); } },
    };
    for (const auto& c : cases) {
        std::string b = good;
        c.patch(b);
        EXPECT_TRUE(fails_with(open_bytes(b), ErrorKind::Corrupt)) << c.what;
    }
    {
        SCOPED_TRACE("GroupDescriptorsGarbage");
        // libext2fs checks descriptors lazily: opening may work, reading through them may not.
        std::string b = good;
        uint64_t block_size = uint64_t(1024) << test::le32_at(b, sb + 24);
        uint64_t at = (test::le32_at(b, sb + 20) + 1) * block_size;
        for (size_t i = 0; i < 512; ++i)
            b[at + i] = static_cast<char>(0xff - i * 37);
        auto f = open_bytes(b);
        if (f.is_ok()) {
            auto s = f.value()->walk([](const WalkEntry&) { return WalkAction::Continue; });
            EXPECT_TRUE(fails_with(s, ErrorKind::Corrupt));
        } else {
            EXPECT_TRUE(fails_with(f, ErrorKind::Corrupt));
        }
    }
    {
        SCOPED_TRACE("TooManyBlockGroups");
        // 2^21 one-block groups in a sparse 2 GiB file: the descriptor table alone would be
        // 64 MiB or more, so it is refused before libext2fs allocates it.
        std::string p = s_dir->file("groups.img");
        test::write_all(p, good.substr(0, 1 << 20));
        ASSERT_EQ(::truncate(p.c_str(), 2LL << 30), 0);
        std::string super = good.substr(sb, 1024);
        test::put_le32(super, 4, 1u << 21);
        test::put_le32(super, 20, 1);
        test::put_le32(super, 24, 0);
        test::put_le32(super, 32, 1);
        test::put_le32(super, 96, test::le32_at(super, 96) & ~0x80u);
        test::write_at(p, sb, super);
        auto r = open_fs(p);
        ASSERT_TRUE(fails_with(r, ErrorKind::Corrupt));
        EXPECT_NE(r.error().message().find("block groups"), std::string::npos) << r.error().message();
    }
    {
        SCOPED_TRACE("DirectoryLoopWalkedOnce");
        // debugfs links a directory under its own grandchild: a cycle no kernel would allow.
        std::string p = copy_image(ext4(), "loop.img");
        debugfs(p, "link /deep/d0 /deep/d0/d1/d2/back");
        auto f = open_fs(p);
        ASSERT_TRUE(is_ok(f));
        uint64_t visits = 0;
        auto s = f.value()->walk([&](const WalkEntry&) {
            ++visits;
            return WalkAction::Continue;
        });
        ASSERT_TRUE(is_ok(s));
        EXPECT_EQ(s.value().repeated_dirs, 1u);
        EXPECT_EQ(s.value().entries, visits);
        // Paths through the loop still resolve, and stay bounded by the path itself.
        EXPECT_TRUE(is_ok(f.value()->stat("/deep/d0/d1/d2/back/d1/d2/back/d1/d2/back/d1")));
    }
    {
        SCOPED_TRACE("HugeFileSizeRefusedByLimit");
        std::string p = copy_image(ext4(), "huge.img");
        debugfs(p, "sif /etc/passwd size 0x7fffffffffff");
        auto f = open_fs(p);
        ASSERT_TRUE(is_ok(f));
        EXPECT_EQ(f.value()->stat("/etc/passwd").value().size, 0x7fffffffffffULL);
        EXPECT_TRUE(fails_with(f.value()->read_file("/etc/passwd", 64 << 20), ErrorKind::InvalidArgument));
    }
    {
        SCOPED_TRACE("BrokenExtentTree");
        std::string p = copy_image(ext4(), "extent.img");
        debugfs(p, "sif /bin/sh block[0] 0");
        auto f = open_fs(p);
        ASSERT_TRUE(is_ok(f));
        EXPECT_TRUE(fails_with(f.value()->read_file("/bin/sh", 8 << 20), ErrorKind::Corrupt));
    }
    {
        SCOPED_TRACE("BlockPastTheDevice");
        // ext2 has no checksums: the damage reaches the block reads themselves.
        std::string p = copy_image(image("ext2.img", { "-t", "ext2" }), "ext2-bad.img");
        debugfs(p, "sif /bin/sh block[3] 4000000000");
        auto f = open_fs(p);
        ASSERT_TRUE(is_ok(f));
        auto r = f.value()->read_file("/bin/sh", 8 << 20);
        EXPECT_TRUE(fails_with(r, ErrorKind::Corrupt));
    }
    {
        SCOPED_TRACE("DirectoryEntryNamesAMissingInode");
        std::string b = test::read_all(image("ext2.img", { "-t", "ext2" }));
        size_t at = b.find("hardlink");
        ASSERT_NE(at, std::string::npos);
        test::put_le32(b, at - 8, 0x7ffffff0); // the entry's inode number
        auto f = open_bytes(b);
        ASSERT_TRUE(is_ok(f));
        auto s = f.value()->walk([](const WalkEntry&) { return WalkAction::Continue; });
        EXPECT_TRUE(fails_with(s, ErrorKind::Corrupt));
        EXPECT_TRUE(fails_with(f.value()->stat("/hardlink"), ErrorKind::Corrupt));
        EXPECT_TRUE(is_ok(f.value()->stat("/etc/passwd")));
    }
    {
        SCOPED_TRACE("DirectoryEntryWithASlash");
        std::string b = test::read_all(image("ext2.img", { "-t", "ext2" }));
        size_t at = b.find("hardlink");
        ASSERT_NE(at, std::string::npos);
        b[at + 4] = '/';
        auto f = open_bytes(b);
        ASSERT_TRUE(is_ok(f));
        EXPECT_TRUE(fails_with(f.value()->list_dir("/"), ErrorKind::Corrupt));
    }
    {
        SCOPED_TRACE("RootNotADirectory");
        std::string p = copy_image(ext4(), "root.img");
        debugfs(p, "sif <2> mode 0100644");
        auto f = open_fs(p);
        if (f.is_ok()) {
            EXPECT_TRUE(fails_with(f.value()->walk([](const WalkEntry&) { return WalkAction::Continue; }), ErrorKind::Corrupt));
            EXPECT_FALSE(f.value()->read_file("/etc/passwd", 100).is_ok());
        }
    }
}

} // namespace
} // namespace bulwark::disk
