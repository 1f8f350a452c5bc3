// bulwark-inspect: the image inspector worker. bulwarkd runs it through bulwark-jailer (its
// own uid, no network, no files but its own binary and libraries, cgroup limits, seccomp),
// handing it the image (and any backing files and YARA rules) as open fds. It writes one
// JSON document to its output fd: {"ok": true, "report": {...}} or
// {"ok": false, "error": {"kind": ..., "message": ...}}.
//
//   bulwark-inspect --image-fd N --out-fd N [--backing NAME=FD]... [--yara NAME=FD]...
//                   [--progress-fd N] [--max-file-mib N] [--today-days N] [--content 0|1]
//                   [--threads N]
//
// --threads: threads that read and scan file contents (1-4, default 2).
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/system.h"
#include "disk/block_device.h"
#include "disk/qcow2.h"
#include "image/format.h"
#include "scan/image_scan.h"

// The worker runs under seccomp without ptrace, where LeakSanitizer cannot stop the world.
extern "C" const char* __lsan_default_options() { return "detect_leaks=0"; }

namespace bulwark::scan {
namespace {

struct Args {
    int image_fd = -1;
    int out_fd = -1;
    int progress_fd = -1;
    std::map<std::string, int> backing;
    std::vector<std::pair<std::string, int>> yara;
    uint64_t max_file_mib = 64;
    int64_t today_days = 0;
    bool content = true;
    unsigned threads = 2;
};

Result<int64_t> number(const std::string& opt, const std::string& text)
{
    int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < 0)
        return Error(ErrorKind::InvalidArgument, opt + " needs a number");
    return v;
}

Result<std::pair<std::string, int>> named_fd(const std::string& opt, const std::string& text)
{
    auto eq = text.rfind('=');
    if (eq == std::string::npos || eq == 0)
        return Error(ErrorKind::InvalidArgument, opt + " needs NAME=FD");
    return std::make_pair(text.substr(0, eq), static_cast<int>(TRY(number(opt, text.substr(eq + 1)))));
}

Result<Args> parse(int argc, char** argv)
{
    Args a;
    a.today_days = static_cast<int64_t>(std::time(nullptr) / 86400);
    for (int i = 1; i < argc; ++i) {
        std::string opt = argv[i];
        if (i + 1 >= argc)
            return Error(ErrorKind::InvalidArgument, opt + " needs a value");
        std::string val = argv[++i];
        if (opt == "--image-fd")
            a.image_fd = static_cast<int>(TRY(number(opt, val)));
        else if (opt == "--out-fd")
            a.out_fd = static_cast<int>(TRY(number(opt, val)));
        else if (opt == "--progress-fd")
            a.progress_fd = static_cast<int>(TRY(number(opt, val)));
        else if (opt == "--max-file-mib")
            a.max_file_mib = static_cast<uint64_t>(TRY(number(opt, val)));
        else if (opt == "--content")
            a.content = TRY(number(opt, val)) != 0;
        else if (opt == "--threads") {
            int64_t n = TRY(number(opt, val));
            if (n < 1 || n > static_cast<int64_t>(k_max_scan_threads))
                return Error(ErrorKind::InvalidArgument, "--threads must be from 1 to " + std::to_string(k_max_scan_threads));
            a.threads = static_cast<unsigned>(n);
        } else if (opt == "--today-days")
            a.today_days = TRY(number(opt, val));
        else if (opt == "--backing")
            a.backing.insert(TRY(named_fd(opt, val)));
        else if (opt == "--yara")
            a.yara.push_back(TRY(named_fd(opt, val)));
        else
            return Error(ErrorKind::InvalidArgument, "unknown option " + opt);
    }
    if (a.image_fd < 3 || a.out_fd < 0)
        return Error(ErrorKind::InvalidArgument, "--image-fd and --out-fd are required");
    return a;
}

Result<std::unique_ptr<disk::BlockDevice>> open_image(int fd, const std::map<std::string, int>& backing, disk::BlockDevice** file)
{
    auto raw = TRY(disk::RawFile::from_fd(Fd(::dup(fd)), "the image"));
    *file = raw.get();
    uint8_t magic[4] {};
    if (raw->size() >= 4)
        TRY(raw->read_at(0, magic));
    if (std::memcmp(magic, k_qcow2_magic, 4) != 0)
        return std::unique_ptr<disk::BlockDevice>(std::move(raw));
    disk::Qcow2Options options;
    // Backing files are only those bulwarkd handed over, by the name the image gives them.
    if (!backing.empty()) {
        options.resolve_backing = [&backing](const std::string& name) -> Result<disk::BackingFile> {
            auto it = backing.find(name);
            if (it == backing.end())
                return Error(ErrorKind::NotFound, "backing file '" + name + "' was not provided");
            disk::BackingFile b;
            b.device = TRY(disk::RawFile::from_fd(Fd(::dup(it->second)), "backing file " + name));
            b.identity = name;
            return b;
        };
    }
    auto reader = TRY(disk::Qcow2Reader::open(std::move(raw), options));
    *file = &reader->file();
    return std::unique_ptr<disk::BlockDevice>(std::move(reader));
}

Result<Json> run(const Args& a)
{
    std::vector<YaraSource> sources;
    std::vector<std::string> names;
    for (const auto& [name, fd] : a.yara) {
        auto text = TRY_CTX(sys::read_fd(fd, k_max_yara_source_bytes + 1), "YARA rules " + name);
        if (text.size() > k_max_yara_source_bytes)
            return Error(ErrorKind::InvalidArgument, "YARA rules " + name + " are larger than 16 MiB");
        sources.push_back({name, std::move(text)});
        names.push_back(name);
    }
    std::unique_ptr<YaraRules> yara;
    if (!sources.empty())
        yara = TRY(YaraRules::compile(sources));
    disk::BlockDevice* file = nullptr;
    auto image = TRY(open_image(a.image_fd, a.backing, &file));
    std::shared_ptr<disk::BlockDevice> disk(std::move(image));
    ScanOptions options;
    options.yara = yara.get();
    options.yara_names = names;
    options.max_content_bytes = a.max_file_mib << 20;
    options.content = a.content;
    options.today_days = a.today_days;
    options.threads = a.threads;
    if (a.progress_fd >= 0) {
        options.progress = [fd = a.progress_fd](const ScanProgress& p) {
            std::string line = json_dump(Json {{"files", p.files}, {"files_total", p.files_total}, {"bytes", p.bytes_scanned}}) + "\n";
            (void)sys::write_all(fd, line);
        };
    }
    Json report = TRY(scan_disk(disk, options));
    // Bytes read from the image file itself (for a qcow2, not the guest-visible bytes).
    report["stats"]["bytes_read"] = file->stats().bytes_read;
    return report;
}

}  // namespace
}  // namespace bulwark::scan

int main(int argc, char** argv)
{
    using namespace bulwark;
    auto args = scan::parse(argc, argv);
    if (args.is_error()) {
        std::fprintf(stderr, "bulwark-inspect: %s\n", args.error().message().c_str());
        return 2;
    }
    auto report = scan::run(args.value());
    Json out = report.is_ok() ? Json {{"ok", true}, {"report", report.value()}}
                              : Json {{"ok", false}, {"error", {{"kind", error_kind_name(report.error().kind())}, {"message", report.error().message()}}}};
    auto written = sys::write_all(args.value().out_fd, json_dump(out) + "\n");
    ::_exit(written.is_ok() ? 0 : 1);
}
