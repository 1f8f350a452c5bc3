#include "scan/image_scan.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "disk/filesystem.h"
#include "disk/fs_detect.h"
#include "disk/partition.h"
#include "inspect/account_checks.h"
#include "inspect/accounts.h"
#include "inspect/dpkg_status.h"
#include "inspect/file_checks.h"
#include "inspect/finding.h"
#include "inspect/os_release.h"
#include "inspect/secrets.h"
#include "inspect/ssh_keys.h"
#include "inspect/sshd_config.h"
#include "inspect/sudoers.h"

namespace bulwark::scan {

using inspect::Finding;
using inspect::Severity;

namespace {

constexpr size_t k_config_bytes = 16 << 20;     // one configuration file (passwd, sudoers...)
constexpr size_t k_status_bytes = 64 << 20;     // the dpkg status database
constexpr size_t k_dir_files = 4096;            // files read from one config directory

class Collector {
public:
    explicit Collector(size_t max) : m_max(max) {}
    void add(Finding f)
    {
        if (m_findings.size() >= m_max) {
            ++m_dropped;
            return;
        }
        m_findings.push_back(std::move(f));
    }
    void add(std::vector<Finding> fs)
    {
        for (auto& f : fs)
            add(std::move(f));
    }
    std::vector<Finding>& findings() { return m_findings; }
    size_t dropped() const { return m_dropped; }

private:
    size_t m_max;
    size_t m_dropped = 0;
    std::vector<Finding> m_findings;
};

Json finding_json(const Finding& f)
{
    return Json {{"id", f.id}, {"kind", f.kind}, {"severity", inspect::severity_name(f.severity)}, {"path", f.path},
        {"line", f.line}, {"message", f.message}, {"excerpt", f.excerpt}};
}

// One filesystem of the image, with the prefix its paths get in the report ("" for the root
// filesystem, "[p2]" for partition 2 otherwise).
struct Volume {
    uint32_t partition = 0;
    std::string prefix;
    std::unique_ptr<disk::Filesystem> fs;
    Json info;
    // Root filesystem only: path -> MD5 (hex) of every file dpkg installed, from
    // /var/lib/dpkg/info/*.md5sums (conffiles are not in them).
    std::unordered_map<std::string, std::string> package_md5;
};

constexpr size_t k_max_md5sums_entries = 2'000'000;

std::optional<std::string> read_small(disk::Filesystem& fs, const std::string& path, size_t max = k_config_bytes);

// Reads dpkg's md5sums lists: "<32 hex>  <path without leading slash>" per line.
void load_package_md5(disk::Filesystem& fs, std::unordered_map<std::string, std::string>& out)
{
    auto entries = fs.list_dir("/var/lib/dpkg/info", 200000);
    if (entries.is_error())
        return;
    for (const auto& e : entries.value()) {
        if (e.name.size() < 9 || e.name.compare(e.name.size() - 8, 8, ".md5sums") != 0)
            continue;
        auto text = read_small(fs, "/var/lib/dpkg/info/" + e.name, 16 << 20);
        if (!text)
            continue;
        size_t pos = 0;
        while (pos < text->size() && out.size() < k_max_md5sums_entries) {
            size_t end = text->find('\n', pos);
            if (end == std::string::npos)
                end = text->size();
            std::string_view line(text->data() + pos, end - pos);
            pos = end + 1;
            if (line.size() < 35 || line[32] != ' ' || line[33] != ' ')
                continue;
            std::string_view hex = line.substr(0, 32);
            if (hex.find_first_not_of("0123456789abcdef") != std::string_view::npos)
                continue;
            std::string path = "/" + std::string(line.substr(34));
            // Merged /usr: dpkg lists /bin/mount, the walk finds /usr/bin/mount.
            for (const char* top : {"/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/"}) {
                if (path.rfind(top, 0) == 0)
                    out.emplace("/usr" + path, std::string(hex));
            }
            out.emplace(std::move(path), std::string(hex));
        }
    }
}

std::string md5_hex(std::string_view bytes)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_md5(), nullptr);
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

std::optional<std::string> read_small(disk::Filesystem& fs, const std::string& path, size_t max)
{
    auto st = fs.stat_follow(path);
    if (st.is_error() || st.value().type != disk::FileType::Regular)
        return std::nullopt;
    auto text = fs.read_file(path, max);
    if (text.is_error())
        return std::nullopt;
    return text.release_value();
}

// The regular files of a directory (not recursive), sorted, at most k_dir_files.
std::vector<std::pair<std::string, std::string>> read_dir_files(disk::Filesystem& fs, const std::string& dir,
    const std::function<bool(const std::string&)>& wanted = {})
{
    std::vector<std::pair<std::string, std::string>> out;
    auto entries = fs.list_dir(dir, k_dir_files);
    if (entries.is_error())
        return out;
    for (const auto& e : entries.value()) {
        if (wanted && !wanted(e.name))
            continue;
        std::string path = dir + "/" + e.name;
        if (auto text = read_small(fs, path))
            out.emplace_back(path, std::move(*text));
    }
    return out;
}

std::string prefixed(const std::string& prefix, const std::string& path) { return prefix.empty() ? path : prefix + path; }

void analyse_root(disk::Filesystem& fs, const ScanOptions& options, Collector& out, Json& report)
{
    // OS identity.
    std::optional<std::string> os_text = read_small(fs, "/etc/os-release", 64 * 1024);
    if (!os_text)
        os_text = read_small(fs, "/usr/lib/os-release", 64 * 1024);
    if (os_text) {
        auto os = inspect::parse_os_release(*os_text);
        report["os"] = Json {{"id", inspect::display_text(os.id, 64)}, {"version_id", inspect::display_text(os.version_id, 64)},
            {"version_codename", inspect::display_text(os.version_codename, 64)},
            {"pretty_name", inspect::display_text(os.pretty_name, 128)}};
    } else {
        out.add(inspect::make_finding("os.unknown", "", Severity::Medium, "/etc/os-release",
            "the image has no /etc/os-release: its operating system, and so its vulnerabilities, cannot be assessed"));
    }

    // Packages.
    Json packages = Json::array();
    std::optional<std::string> openssh_version;
    if (auto status = read_small(fs, "/var/lib/dpkg/status", k_status_bytes)) {
        auto parsed = inspect::parse_dpkg_status(*status);
        for (const auto& p : parsed.installed) {
            packages.push_back(Json {{"name", p.name}, {"version", p.version}, {"architecture", p.architecture},
                {"source_name", p.source_name}, {"source_version", p.source_version}});
            if (p.name == "openssh-server")
                openssh_version = p.version;
        }
        for (const auto& p : parsed.incomplete) {
            out.add(inspect::make_finding("packages.incomplete", p.name, Severity::Low, "/var/lib/dpkg/status",
                "package " + inspect::display_text(p.name, 64) + " is not fully installed (" + inspect::display_text(p.state, 32) + ")"));
        }
        if (parsed.diagnostics.truncated)
            out.add(inspect::make_finding("packages.truncated", "", Severity::High, "/var/lib/dpkg/status",
                "the dpkg database passed a parsing limit: the package list is incomplete"));
    } else if (report["os"].is_object()) {
        out.add(inspect::make_finding("packages.no-dpkg-database", "", Severity::Medium, "/var/lib/dpkg/status",
            "no dpkg database: installed packages, and their vulnerabilities, cannot be assessed"));
    }
    report["packages"] = std::move(packages);

    // Accounts and sudo.
    auto passwd_text = read_small(fs, "/etc/passwd");
    auto shadow_text = read_small(fs, "/etc/shadow");
    auto group_text = read_small(fs, "/etc/group");
    inspect::PasswdFile passwd;
    inspect::ShadowFile shadow;
    inspect::GroupFile group;
    if (passwd_text)
        passwd = inspect::parse_passwd(*passwd_text);
    if (shadow_text)
        shadow = inspect::parse_shadow(*shadow_text);
    if (group_text)
        group = inspect::parse_group(*group_text);
    inspect::AccountInputs accounts;
    accounts.passwd = passwd_text ? &passwd : nullptr;
    accounts.shadow = shadow_text ? &shadow : nullptr;
    accounts.group = group_text ? &group : nullptr;
    accounts.today = options.today_days;
    out.add(inspect::check_accounts(accounts));

    std::vector<std::pair<std::string, std::string>> sudo_files;
    if (auto main = read_small(fs, "/etc/sudoers"))
        sudo_files.emplace_back("/etc/sudoers", std::move(*main));
    // sudo skips files in an included directory whose names end in '~' or contain a '.'.
    for (auto& f : read_dir_files(fs, "/etc/sudoers.d", [](const std::string& n) { return n.find('.') == std::string::npos && n.back() != '~'; }))
        sudo_files.push_back(std::move(f));
    if (!sudo_files.empty()) {
        std::vector<inspect::ConfigSource> sources;
        for (const auto& [path, text] : sudo_files)
            sources.push_back({path, text});
        out.add(inspect::check_sudoers(inspect::parse_sudoers(sources)));
    }

    // SSH: server configuration, per-user authorized keys, host keys.
    if (auto main = read_small(fs, "/etc/ssh/sshd_config")) {
        auto extras_files = read_dir_files(fs, "/etc/ssh/sshd_config.d");
        std::vector<inspect::ConfigSource> extras;
        for (const auto& [path, text] : extras_files)
            extras.push_back({path, text});
        std::optional<inspect::OpenSshVersion> version;
        if (openssh_version)
            version = inspect::parse_openssh_version(*openssh_version);
        out.add(inspect::check_sshd_config(inspect::parse_sshd_config({"/etc/ssh/sshd_config", *main}, extras), version));
    }
    for (const auto& user : passwd.entries) {
        if (user.home.empty() || user.home[0] != '/')
            continue;
        for (const char* name : {"/.ssh/authorized_keys", "/.ssh/authorized_keys2"}) {
            std::string path = (user.home == "/" ? "" : user.home) + name;
            if (auto text = read_small(fs, path, 1 << 20))
                out.add(inspect::check_authorized_keys(inspect::parse_authorized_keys(*text), path, user.name));
        }
    }
    Json identity {{"machine_id", nullptr}, {"ssh_host_keys", Json::array()}};
    if (auto id = read_small(fs, "/etc/machine-id", 4096)) {
        std::string trimmed = id->substr(0, id->find_first_of("\r\n"));
        if (!trimmed.empty() && trimmed != "uninitialized") {
            identity["machine_id"] = inspect::display_text(trimmed, 64);
            out.add(inspect::make_finding("identity.machine-id", "", Severity::Low, "/etc/machine-id",
                "the image carries a machine id: every guest made from it shares it unless it is reset at first boot"));
        }
    }
    auto host_keys = fs.list_dir("/etc/ssh", k_dir_files);
    if (host_keys.is_ok()) {
        for (const auto& e : host_keys.value()) {
            if (e.name.rfind("ssh_host_", 0) != 0)
                continue;
            std::string path = "/etc/ssh/" + e.name;
            bool is_pub = e.name.size() > 4 && e.name.compare(e.name.size() - 4, 4, ".pub") == 0;
            auto text = read_small(fs, path, 64 * 1024);
            if (!text)
                continue;
            if (is_pub) {
                if (auto key = inspect::parse_public_key_file(*text); key.is_ok())
                    identity["ssh_host_keys"].push_back(
                        Json {{"path", path}, {"type", key.value().type}, {"fingerprint", key.value().fingerprint}});
                continue;
            }
            std::string fingerprint;
            if (auto priv = inspect::parse_openssh_private_key(*text); priv.is_ok() && !priv.value().public_keys.empty())
                fingerprint = priv.value().public_keys[0].fingerprint;
            auto f = inspect::make_finding("ssh.host-private-key", path, Severity::High, path,
                "an SSH host private key is baked into the image: every guest made from it would share it"
                    + (fingerprint.empty() ? std::string() : " (" + fingerprint + ")"));
            out.add(std::move(f));
        }
    }
    report["identity"] = std::move(identity);

    // Cron.
    if (auto text = read_small(fs, "/etc/crontab", 1 << 20))
        out.add(inspect::check_crontab(inspect::parse_crontab(*text, true), "/etc/crontab"));
    for (const auto& [path, text] : read_dir_files(fs, "/etc/cron.d"))
        out.add(inspect::check_crontab(inspect::parse_crontab(text, true), path));
    for (const auto& [path, text] : read_dir_files(fs, "/var/spool/cron/crontabs"))
        out.add(inspect::check_crontab(inspect::parse_crontab(text, false), path));
}

struct RegularFile {
    uint64_t inode;
    uint64_t size;
    std::string path;
};

// What the content scan of one file found.
struct ContentResult {
    std::vector<Finding> findings;
    bool vendor = false;  // exactly as its Debian package shipped it
    uint64_t bytes = 0;
};

// The content scan of one file: dpkg's MD5, the secret rules, YARA. Runs on any thread: it
// reads only the volume's prefix and package list, unchanged while files are scanned, and
// matches with the calling thread's own YARA scanner.
ContentResult scan_file(const Volume& v, const std::string& file_path, std::string_view bytes, YaraScanner* yara)
{
    ContentResult r;
    r.bytes = bytes.size();
    std::string path = prefixed(v.prefix, file_path);
    // A file exactly as a Debian package shipped it holds the distribution's bytes, not
    // secrets of whoever built the image (libgnutls carries test keys, for one). It is
    // still matched by YARA. A package file that was changed is itself a finding.
    if (auto it = v.package_md5.find(file_path); it != v.package_md5.end()) {
        if (md5_hex(bytes) == it->second) {
            r.vendor = true;
        } else {
            r.findings.push_back(inspect::make_finding("package.modified-file", file_path, Severity::Medium, path,
                "this file differs from what its Debian package installed (dpkg md5sums): it was changed after installation"));
        }
    }
    if (!r.vendor) {
        for (auto& f : inspect::scan_content(path, bytes))
            r.findings.push_back(std::move(f));
    }
    if (yara) {
        auto matches = yara->match(bytes);
        if (matches.is_ok()) {
            for (const auto& rule : matches.value()) {
                r.findings.push_back(inspect::make_finding("yara.match", rule + ":" + path, Severity::High, path,
                    "YARA rule " + inspect::display_text(rule, 128) + " matches"));
            }
        } else {
            r.findings.push_back(inspect::make_finding("yara.error", path, Severity::Medium, path,
                "YARA could not scan this file: " + matches.error().message()));
        }
    }
    return r;
}

// Reads and scans the contents of a volume's regular files on options.threads threads, the
// caller's among them. Each thread takes the next file, reads it and scans it: the reads
// take turns under a lock (libext2fs and the image's block device are not thread-safe), the
// scans run side by side, and a file is scanned by the thread that read it, while its bytes
// are still in that core's caches. Results are handed to merge() on the caller's thread in
// file order, so the report is the same whatever thread finishes first. Memory: one file's
// bytes per thread (each at most max_content_bytes).
class ContentScan {
public:
    ContentScan(const ScanOptions& options, Volume& v, const std::vector<RegularFile>& files, std::function<void(ContentResult&)> merge)
        : m_options(options)
        , m_volume(v)
        , m_files(files)
        , m_merge(std::move(merge))
    {
    }

    struct Counts {
        uint64_t skipped_large = 0;
        uint64_t unreadable = 0;
    };

    Counts run()
    {
        unsigned threads = std::clamp(m_options.threads, 1u, k_max_scan_threads);
        std::vector<std::unique_ptr<YaraScanner>> scanners;
        std::string yara_error;
        for (unsigned i = 0; i < threads && m_options.yara; ++i) {
            auto made = YaraScanner::create(*m_options.yara);
            if (made.is_error())
                yara_error = made.error().message();
            scanners.push_back(made.is_ok() ? made.release_value() : nullptr);
        }
        m_yara_error = yara_error;
        auto scanner = [&](unsigned i) { return i < scanners.size() ? scanners[i].get() : nullptr; };
        std::vector<std::thread> helpers;
        for (unsigned i = 1; i < threads; ++i)
            helpers.emplace_back([this, s = scanner(i)] { work(s, false); });
        work(scanner(0), true);
        for (auto& t : helpers)
            t.join();
        // A thread that failed (out of memory) fails the scan, as it would have on one thread.
        if (m_failure)
            std::rethrow_exception(m_failure);
        merge_ready();
        return m_counts;
    }

private:
    void work(YaraScanner* yara, bool merges)
    {
        try {
            for (;;) {
                uint64_t seq = 0;
                const RegularFile* file = nullptr;
                std::string bytes;
                {
                    std::lock_guard lock(m_read);
                    if (m_failed)
                        return;
                    while (!file && m_next < m_files.size()) {
                        const RegularFile& f = m_files[m_next++];
                        if (f.size > m_options.max_content_bytes) {
                            ++m_counts.skipped_large;
                            continue;
                        }
                        auto read = m_volume.fs->read_inode(f.inode, m_options.max_content_bytes);
                        if (read.is_error()) {
                            ++m_counts.unreadable;
                            continue;
                        }
                        bytes = read.release_value();
                        file = &f;
                        seq = m_next_seq++;
                    }
                }
                if (!file)
                    return;
                ContentResult r = scan_file(m_volume, file->path, bytes, yara);
                // Without a scanner (libyara could not make one), each file's YARA match
                // fails, as a failed match does.
                if (m_options.yara && !yara) {
                    std::string path = prefixed(m_volume.prefix, file->path);
                    r.findings.push_back(inspect::make_finding("yara.error", path, Severity::Medium, path,
                        "YARA could not scan this file: " + m_yara_error));
                }
                bytes = std::string();
                {
                    std::lock_guard lock(m_done);
                    m_results.emplace(seq, std::move(r));
                }
                if (merges)
                    merge_ready();
            }
        } catch (...) {
            std::lock_guard lock(m_read);
            if (!m_failure)
                m_failure = std::current_exception();
            m_failed = true;
        }
    }

    // Merges the results that are next in order (the caller's thread only).
    void merge_ready()
    {
        for (;;) {
            ContentResult r;
            {
                std::lock_guard lock(m_done);
                auto it = m_results.find(m_merged);
                if (it == m_results.end())
                    return;
                r = std::move(it->second);
                m_results.erase(it);
                ++m_merged;
            }
            m_merge(r);
        }
    }

    const ScanOptions& m_options;
    Volume& m_volume;
    const std::vector<RegularFile>& m_files;
    std::function<void(ContentResult&)> m_merge;
    std::string m_yara_error;

    std::mutex m_read;  // the filesystem, and what follows
    size_t m_next = 0;
    uint64_t m_next_seq = 0;
    Counts m_counts;
    bool m_failed = false;
    std::exception_ptr m_failure;

    std::mutex m_done;  // what follows
    std::map<uint64_t, ContentResult> m_results;
    uint64_t m_merged = 0;  // the caller's thread only
};

// Walks one filesystem: modes, service links, then the content of every regular file.
void walk_volume(Volume& v, const ScanOptions& options, Collector& out, ScanProgress& progress, Json& stats, uint64_t& budget)
{
    std::vector<inspect::FileEntry> special;
    std::vector<inspect::SymlinkEntry> unit_links;
    std::vector<RegularFile> files;
    disk::WalkLimits limits;
    limits.max_entries = budget;
    auto summary = v.fs->walk([&](const disk::WalkEntry& e) {
        const auto& st = e.stat;
        if ((st.mode & (S_ISUID | S_ISGID | S_IWOTH)) != 0)
            special.push_back({prefixed(v.prefix, e.path), st.mode, st.uid, st.gid});
        if (st.type == disk::FileType::Symlink && e.path.rfind("/etc/systemd/", 0) == 0) {
            if (auto target = v.fs->read_link(e.path); target.is_ok())
                unit_links.push_back({e.path, target.value()});
        }
        if (st.type == disk::FileType::Regular)
            files.push_back({st.inode, st.size, e.path});
        return disk::WalkAction::Continue;
    },
        limits);
    if (summary.is_error()) {
        out.add(inspect::make_finding("disk.walk-failed", "p" + std::to_string(v.partition), Severity::High, prefixed(v.prefix, "/"),
            "the filesystem could not be walked to its end: " + inspect::display_text(summary.error().message(), 200)));
    } else {
        budget -= std::min(budget, summary.value().entries);
        if (budget == 0)
            out.add(inspect::make_finding("scan.entry-limit", "", Severity::High, "",
                "the image holds more filesystem entries than the scan limit: files past it were not vetted"));
    }
    // setuid and setgid programs that a Debian package installs are the distribution's
    // (passwd, su, mount...): information. Their bytes are checked against the package's
    // md5sums below. The others are the image builder's, and are worth a warning.
    for (auto& f : inspect::check_file_modes(special)) {
        bool packaged = v.prefix.empty() && v.package_md5.count(f.path) > 0;
        if (packaged && (f.kind == "file.setuid" || f.kind == "file.setgid")) {
            f.severity = Severity::Info;
            f.message += " (installed by a Debian package)";
        }
        out.add(std::move(f));
    }
    if (v.prefix.empty())
        out.add(inspect::check_systemd_units(inspect::enabled_systemd_units(unit_links)));

    // Content: in inode order, which is close to disk order on ext4.
    std::sort(files.begin(), files.end(), [](const RegularFile& a, const RegularFile& b) { return a.inode < b.inode; });
    progress.files_total += files.size();
    uint64_t skipped_large = 0;
    uint64_t unreadable = 0;
    uint64_t package_files = 0;
    uint64_t reported_at = 0;
    auto merge = [&](ContentResult& r) {
        package_files += r.vendor ? 1 : 0;
        out.add(std::move(r.findings));
        ++progress.files;
        progress.bytes_scanned += r.bytes;
        if (options.progress && progress.bytes_scanned - reported_at > (8 << 20)) {
            reported_at = progress.bytes_scanned;
            options.progress(progress);
        }
    };
    if (options.content) {
        auto counts = ContentScan(options, v, files, merge).run();
        skipped_large = counts.skipped_large;
        unreadable = counts.unreadable;
    }
    if (skipped_large > 0)
        out.add(inspect::make_finding("scan.large-files-skipped", "p" + std::to_string(v.partition), Severity::Low, prefixed(v.prefix, "/"),
            std::to_string(skipped_large) + " file(s) over " + std::to_string(options.max_content_bytes >> 20)
                + " MiB were not content-scanned (secrets, YARA)"));
    if (unreadable > 0)
        out.add(inspect::make_finding("disk.unreadable-files", "p" + std::to_string(v.partition), Severity::Medium, prefixed(v.prefix, "/"),
            std::to_string(unreadable) + " file(s) could not be read (corrupt extents?)"));
    v.info["files"] = files.size();
    v.info["package_files_verified"] = package_files;
    stats["files"] = stats.value("files", uint64_t {0}) + files.size();
}

}  // namespace

Result<Json> scan_disk(std::shared_ptr<disk::BlockDevice> disk, const ScanOptions& options)
{
    auto started = std::chrono::steady_clock::now();
    Collector out(options.max_findings);
    Json report {{"os", nullptr}, {"filesystems", Json::array()}, {"packages", Json::array()},
        {"identity", Json {{"machine_id", nullptr}, {"ssh_host_keys", Json::array()}}}};
    Json stats {{"files", 0}};
    report["disk"] = Json {{"size", disk->size()}, {"describe", inspect::display_text(disk->describe(), 200)}};

    auto table = disk::read_partition_table(*disk);
    if (table.is_error())
        return table.error().with_context("partition table");
    std::vector<Volume> volumes;
    for (const auto& p : table.value().partitions) {
        std::shared_ptr<disk::BlockDevice> device = disk;
        if (table.value().scheme != disk::PartitionScheme::None) {
            auto view = disk::open_partition(disk, p);
            if (view.is_error()) {
                out.add(inspect::make_finding("disk.bad-partition", "p" + std::to_string(p.index), Severity::High, "",
                    "partition " + std::to_string(p.index) + ": " + inspect::display_text(view.error().message(), 200)));
                continue;
            }
            device = std::shared_ptr<disk::BlockDevice>(view.release_value());
        }
        Json info {{"partition", p.index}, {"scheme", disk::partition_scheme_name(table.value().scheme)}, {"start", p.start},
            {"size", p.size}, {"kind", nullptr}, {"root", false}, {"files", 0}};
        auto kind = disk::detect_filesystem(*device);
        std::string subject = "p" + std::to_string(p.index);
        if (kind.is_error() || kind.value() == disk::FsKind::Unknown) {
            // Nothing recognisable: empty space, a BIOS boot partition, or something hidden.
            if (p.size > (8 << 20))
                out.add(inspect::make_finding("disk.unknown-partition", subject, Severity::Medium, "",
                    "partition " + std::to_string(p.index) + " (" + std::to_string(p.size >> 20) + " MiB) holds no filesystem Bulwark recognises: its contents were not vetted"));
            report["filesystems"].push_back(std::move(info));
            continue;
        }
        info["kind"] = disk::fs_kind_name(kind.value());
        if (!disk::fs_kind_is_ext(kind.value())) {
            bool swap = kind.value() == disk::FsKind::Swap;
            bool encrypted = kind.value() == disk::FsKind::Luks;
            out.add(inspect::make_finding(encrypted ? "disk.encrypted-partition" : swap ? "disk.swap" : "disk.unsupported-filesystem", subject,
                swap ? Severity::Info : Severity::Medium, "",
                std::string("partition ") + std::to_string(p.index) + ": " + (swap ? "swap space (not inspected)"
                    : encrypted ? "an encrypted (LUKS) volume: its contents cannot be vetted offline"
                    : std::string("unsupported filesystem: ") + disk::fs_kind_name(kind.value()) + "; its files were not vetted")));
            report["filesystems"].push_back(std::move(info));
            continue;
        }
        auto fs = disk::Filesystem::open(device);
        if (fs.is_error()) {
            out.add(inspect::make_finding("disk.corrupt-filesystem", subject, Severity::High, "",
                "partition " + std::to_string(p.index) + ": " + inspect::display_text(fs.error().message(), 200)));
            report["filesystems"].push_back(std::move(info));
            continue;
        }
        const auto& fi = fs.value()->info();
        info["uuid"] = inspect::display_text(fi.uuid, 64);
        info["label"] = inspect::display_text(fi.label, 64);
        info["needs_recovery"] = fi.needs_recovery;
        if (fi.needs_recovery)
            out.add(inspect::make_finding("disk.needs-recovery", subject, Severity::Low, "",
                "partition " + std::to_string(p.index) + " was not cleanly unmounted: changes still in its journal were not seen"));
        volumes.push_back(Volume {p.index, "", fs.release_value(), std::move(info)});
    }
    if (volumes.empty())
        out.add(inspect::make_finding("disk.no-filesystem", "", Severity::High, "",
            "the image holds no filesystem Bulwark can read: nothing in it was vetted"));

    // The root filesystem is the first one that holds an OS identity or a dpkg database.
    size_t root = volumes.size();
    for (size_t i = 0; i < volumes.size() && root == volumes.size(); ++i) {
        for (const char* marker : {"/etc/os-release", "/usr/lib/os-release", "/var/lib/dpkg/status"}) {
            if (volumes[i].fs->stat(marker).is_ok()) {
                root = i;
                break;
            }
        }
    }
    for (size_t i = 0; i < volumes.size(); ++i) {
        if (i != root)
            volumes[i].prefix = "[p" + std::to_string(volumes[i].partition) + "]";
    }
    if (root < volumes.size()) {
        volumes[root].info["root"] = true;
        analyse_root(*volumes[root].fs, options, out, report);
        load_package_md5(*volumes[root].fs, volumes[root].package_md5);
    } else if (!volumes.empty()) {
        out.add(inspect::make_finding("os.unknown", "", Severity::Medium, "",
            "no filesystem of the image holds an operating system Bulwark recognises"));
    }
    ScanProgress progress;
    uint64_t budget = options.max_entries;
    for (auto& v : volumes)
        walk_volume(v, options, out, progress, stats, budget);
    for (auto& v : volumes)
        report["filesystems"].push_back(std::move(v.info));
    if (options.progress)
        options.progress(progress);

    auto& findings = out.findings();
    std::sort(findings.begin(), findings.end(), [](const Finding& a, const Finding& b) {
        if (a.severity != b.severity)
            return a.severity > b.severity;
        return a.id < b.id;
    });
    // The same finding found twice (one secret rule firing on two lines, say) is kept once,
    // at its first line.
    Json list = Json::array();
    std::string last;
    for (const auto& f : findings) {
        if (f.id == last)
            continue;
        last = f.id;
        list.push_back(finding_json(f));
    }
    report["findings"] = std::move(list);
    stats["findings_dropped"] = out.dropped();
    stats["bytes_scanned"] = progress.bytes_scanned;
    stats["bytes_read"] = disk->stats().bytes_read;
    stats["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    report["stats"] = std::move(stats);
    report["yara_rules"] = options.yara_names;
    return report;
}

}  // namespace bulwark::scan
