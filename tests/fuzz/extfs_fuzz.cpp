// Fuzzes Filesystem (libext2fs through our io_manager, path resolution, walk): the input is
// the head of an ext2/3/4 image, zero-extended to 1 MiB so that a small seed's unused tail
// need not be stored. Opens it, walks everything (small limits), reads every regular file and
// symlink it finds and resolves a few paths that cross symlinks.
#include <cstdint>

#include "disk/filesystem.h"
#include "disk_fuzz_input.h"

using namespace bulwark;
using namespace bulwark::disk;
using bulwark::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    FsLimits limits;
    limits.max_dir_entries = 256;
    limits.max_dir_records = 4096;
    auto opened = Filesystem::open(fuzz::memory_file(data, size, 1 << 20), limits);
    if (opened.is_error()) {
        fuzz::check_error(opened);
        return 0;
    }
    Filesystem& fs = *opened.value();
    WalkLimits walk_limits;
    walk_limits.max_depth = 16;
    walk_limits.max_entries = 512;
    uint64_t visited = 0;
    auto walked = fs.walk(
        [&](const WalkEntry& e) {
            ++visited;
            check(!e.path.empty() && e.path[0] == '/');
            check(e.depth <= walk_limits.max_depth);
            if (e.stat.type == FileType::Regular) {
                auto data = fs.read_inode(e.stat.inode, 64 << 10);
                if (data.is_ok())
                    check(data.value().size() == e.stat.size);
                else
                    fuzz::check_error(data);
            } else if (e.stat.type == FileType::Symlink) {
                auto target = fs.read_link(e.path);
                if (target.is_ok())
                    check(target.value().size() <= 4095);
                (void)fs.stat_follow(e.path);
            }
            return WalkAction::Continue;
        },
        walk_limits);
    if (walked.is_ok())
        check(walked.value().entries == visited);
    else
        fuzz::check_error(walked);
    for (const char* path : { "/etc/os-release", "/lib/../etc/passwd", "/a/b/c", "/link/x" }) {
        auto r = fs.read_file(path, 64 << 10);
        if (r.is_error())
            fuzz::check_error(r);
    }
    return 0;
}
