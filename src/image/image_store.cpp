#include "image/image_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <set>

#include "base/hash.h"
#include "base/log.h"
#include "base/names.h"
#include "base/process.h"
#include "base/system.h"
#include "base/time.h"
#include "crypto/signing_key.h"
#include "image/format.h"
#include "store/db.h"

namespace bulwark {

using namespace std::chrono_literals;

static constexpr uint64_t k_max_kernel_bytes = 128ULL << 20;
static constexpr uint64_t k_max_initrd_bytes = 1ULL << 30;
static constexpr size_t k_max_cmdline = 4096;

Json ImageRecord::to_json() const
{
    return Json{{"id", id}, {"name", name}, {"version", version}, {"manifest", manifest}, {"signature", signature_hex}};
}

ImageStore::ImageStore(Db& db, const SigningKey& key, std::string root, std::string qemu_img)
    : m_db(db), m_key(key), m_root(std::move(root)), m_qemu_img(std::move(qemu_img))
{
}

std::string ImageStore::blob_path(const std::string& digest) const
{
    std::string hex = digest.rfind("sha256:", 0) == 0 ? digest.substr(7) : digest;
    return m_root + "/blobs/" + hex;
}

VoidResult ImageStore::initialise()
{
    TRY(sys::mkdirs(m_root, 0700));
    TRY(sys::mkdirs(m_root + "/blobs", 0700));
    // Imports that were in progress when the daemon died are incomplete by definition.
    TRY(sys::remove_tree(m_root + "/staging"));
    TRY(sys::mkdirs(m_root + "/staging", 0700));
    return sweep_unreferenced_blobs();
}

namespace {
// Removes a staging directory on every exit path.
class StagingDir {
public:
    static Result<StagingDir> create(const std::string& parent)
    {
        static thread_local std::mt19937_64 rng {std::random_device {}()};
        std::string path = parent + "/" + std::to_string(rng());
        TRY(sys::mkdirs(path, 0700));
        return StagingDir(path);
    }
    StagingDir(StagingDir&& other) noexcept : m_path(std::move(other.m_path)) { other.m_path.clear(); }
    ~StagingDir()
    {
        if (!m_path.empty())
            (void)sys::remove_tree(m_path);
    }
    const std::string& path() const { return m_path; }

private:
    explicit StagingDir(std::string path) : m_path(std::move(path)) {}
    std::string m_path;
};
}  // namespace

// Moves a fully written, hashed file into blobs/ under its digest, read-only.
Result<std::string> ImageStore::publish_blob(const std::string& staged, const Digest& digest)
{
    std::string blobs_dir = m_root + "/blobs";
    std::string hex = to_hex(digest);
    std::string target = blobs_dir + "/" + hex;
    TRY(sys::chmod(staged, 0444));
    if (sys::exists(target)) {
        // The same content is already in the library: keep the existing blob.
        TRY(sys::unlink_if_exists(staged));
    } else {
        TRY(sys::rename(staged, target));
        TRY(sys::fsync_dir(blobs_dir));
        // We hashed exactly this inode a moment ago, in a directory only we can write: the
        // first start need not hash it again.
        if (auto st = sys::stat(target); st.is_ok()) {
            std::lock_guard lock(m_cache_mutex);
            m_verified[target] = identity_of(st.value());
        }
    }
    return "sha256:" + hex;
}

ImageStore::StatIdentity ImageStore::identity_of(const struct stat& st)
{
    return StatIdentity {st.st_dev, st.st_ino, st.st_size,
        static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
        static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec};
}

Result<std::string> ImageStore::store_blob(int fd, uint64_t max_bytes, const std::string& what)
{
    auto staging = TRY(StagingDir::create(m_root + "/staging"));
    std::string staged = staging.path() + "/blob";
    if (::lseek(fd, 0, SEEK_SET) < 0)
        return Error(ErrorKind::InvalidArgument, "the " + what + " is not a seekable regular file");
    auto st = TRY(sys::fstat(fd));
    if (!S_ISREG(st.st_mode))
        return Error(ErrorKind::InvalidArgument, "the " + what + " is not a regular file");
    uint64_t size = TRY_CTX(sys::copy_fd_to_file(fd, staged, 0600, max_bytes), "the " + what);
    if (size == 0)
        return Error(ErrorKind::InvalidArgument, "the " + what + " is empty");
    Digest digest = TRY(Sha256::of_file(staged));
    return publish_blob(staged, digest);
}

Result<std::string> ImageStore::ingest_disk(const ImportRequest& req, const std::string& version, Json& disk_info,
    std::optional<ImportVetting>& vetting)
{
    int fd = req.disk_fd;
    DiskInfo info = TRY(probe_disk_fd(fd));
    auto staging = TRY(StagingDir::create(m_root + "/staging"));
    std::string source;
    std::vector<int> pass_fds;
    if (info.format == DiskFormat::Qcow2) {
        // qcow2 metadata is interpreted by qemu-img: take a private copy first, so the file
        // checked is the file converted (the caller could rewrite theirs in between).
        source = staging.path() + "/input.qcow2";
        if (::lseek(fd, 0, SEEK_SET) < 0)
            return Error::from_errno("seek", errno);
        TRY(sys::copy_fd_to_file(fd, source, 0600, info.file_size));
        auto copy_fd = TRY(sys::open(source, O_RDONLY));
        DiskInfo again = TRY(probe_disk_fd(copy_fd.get()));
        if (again.file_size != info.file_size)
            return Error(ErrorKind::Conflict, "the image changed while it was being imported");
        auto check = TRY(run_command({m_qemu_img, "check", "-q", "-f", "qcow2", source}, 30min));
        // qemu-img check: 0 clean, 3 leaked clusters only (harmless); anything else is damage.
        if (!(check.status.exited && (check.status.code == 0 || check.status.code == 3))) {
            std::string detail = check.output.substr(0, 300);
            return Error(ErrorKind::Corrupt, "qcow2 image is corrupt or truncated (qemu-img check: "
                    + (detail.empty() ? check.status.describe() : detail) + ")");
        }
    } else {
        // Raw has no metadata: QEMU reads it as plain bytes whatever it contains.
        source = "/dev/fd/" + std::to_string(fd);
        pass_fds.push_back(fd);
    }
    std::string output = staging.path() + "/disk.qcow2";
    auto converted = TRY(run_command({m_qemu_img, "convert", "-q", "-f", disk_format_name(info.format), "-O", "qcow2",
                                         "-o", "compat=1.1", source, output},
        120min, 1 << 16, pass_fds));
    if (!converted.status.success()) {
        bool no_space = converted.output.find("No space left") != std::string::npos;
        return Error(no_space ? ErrorKind::Io : ErrorKind::Corrupt,
            std::string(no_space ? "the library's disk is full: " : "qemu-img could not read the image: ") + converted.output.substr(0, 300));
    }
    TRY(sys::chmod(output, 0600));
    auto out_fd = TRY(sys::open(output, O_RDONLY));
    DiskInfo stored = TRY(probe_disk_fd(out_fd.get()));
    Digest digest = TRY(Sha256::of_fd(out_fd.get()));
    disk_info = Json{{"format", "qcow2"}, {"source_format", disk_format_name(info.format)},
        {"virtual_size", stored.virtual_size}, {"size", stored.file_size}};
    // Vetting reads exactly the bytes that would be stored (a private, read-only copy), and
    // a refusal leaves nothing behind: the staging directory goes with this scope.
    if (req.vet) {
        Json image {{"name", req.name}, {"version", version}, {"digest", "sha256:" + to_hex(digest)}, {"format", "qcow2"},
            {"source_format", disk_format_name(info.format)}, {"virtual_size", stored.virtual_size}};
        if (::lseek(out_fd.get(), 0, SEEK_SET) < 0)
            return Error::from_errno("seek", errno);
        vetting = TRY(req.vet(out_fd.get(), image));
    }
    out_fd.reset();
    return publish_blob(output, digest);
}

static Result<ImageRecord> record_from_row(const Row& r)
{
    ImageRecord rec;
    rec.id = r.integer(0);
    rec.name = r.text(1);
    rec.version = r.text(2);
    rec.manifest_text = r.text(3);
    rec.signature_hex = r.text(4);
    auto parsed = parse_json(rec.manifest_text);
    if (parsed.is_error())
        return Error(ErrorKind::VerifyFailed, "image '" + rec.ref() + "' has an unreadable manifest");
    rec.manifest = parsed.release_value();
    return rec;
}

static const char* k_image_columns = "id, name, version, manifest, signature";

Result<ImageRecord> ImageStore::import(const ImportRequest& req)
{
    TRY(validate_name(req.name, "image name"));
    if (!req.version.empty())
        TRY(validate_name(req.version, "image version"));
    if (req.cmdline.size() > k_max_cmdline)
        return Error(ErrorKind::InvalidArgument, "the kernel command line is longer than 4096 characters");
    for (char c : req.cmdline) {
        if (c < 0x20 || c > 0x7e)
            return Error(ErrorKind::InvalidArgument, "the kernel command line may contain only printable ASCII");
    }
    if (req.kernel_fd < 0 && (req.initrd_fd >= 0 || !req.cmdline.empty()))
        return Error(ErrorKind::InvalidArgument, "--initrd and --cmdline need --kernel");

    std::lock_guard lock(m_import_mutex);
    std::string version = req.version;
    auto latest = TRY(m_db.query_one("SELECT version FROM images WHERE name = ? ORDER BY id DESC LIMIT 1", {req.name}));
    if (version.empty()) {
        int64_t highest = 0;
        for (const auto& row : TRY(m_db.query("SELECT version FROM images WHERE name = ?", {req.name}))) {
            const std::string v = row.text(0);
            if (!v.empty() && v.size() < 10 && v.find_first_not_of("0123456789") == std::string::npos)
                highest = std::max<int64_t>(highest, std::stoll(v));
        }
        version = std::to_string(highest + 1);
    }
    if (TRY(m_db.query_one("SELECT id FROM images WHERE name = ? AND version = ?", {req.name, version})))
        return Error(ErrorKind::Conflict, "image '" + req.name + ":" + version + "' already exists");

    Json disk_info;
    std::optional<ImportVetting> vetting;
    std::string disk_digest = TRY_CTX(ingest_disk(req, version, disk_info, vetting), "cannot import '" + req.name + "'");
    disk_info["digest"] = disk_digest;
    Json manifest {{"schema", "bulwark.image.v1"}, {"name", req.name}, {"version", version},
        {"parent_version", latest ? Json(latest->text(0)) : Json(nullptr)}, {"created", now_rfc3339()},
        {"disk", disk_info}, {"signer", "ed25519:" + m_key.public_key_hex()}};
    if (req.kernel_fd >= 0) {
        Json boot {{"cmdline", req.cmdline}};
        std::string kd = TRY_CTX(store_blob(req.kernel_fd, k_max_kernel_bytes, "kernel"), "cannot import '" + req.name + "'");
        boot["kernel"] = Json {{"digest", kd}, {"size", TRY(sys::stat(blob_path(kd))).st_size}};
        if (req.initrd_fd >= 0) {
            std::string id = TRY_CTX(store_blob(req.initrd_fd, k_max_initrd_bytes, "initrd"), "cannot import '" + req.name + "'");
            boot["initrd"] = Json {{"digest", id}, {"size", TRY(sys::stat(blob_path(id))).st_size}};
        }
        manifest["boot"] = boot;
    }
    std::string text = json_dump(manifest);
    std::string signature = to_hex(m_key.sign(text));
    TRY(m_db.transaction([&]() -> VoidResult {
        TRY(m_db.exec("INSERT INTO images (name, version, digest, manifest, signature, created) VALUES (?, ?, ?, ?, ?, ?)",
            {req.name, version, disk_digest, text, signature, manifest["created"].get<std::string>()}));
        if (vetting) {
            int64_t id = m_db.last_insert_rowid();
            TRY(m_db.exec("INSERT INTO image_reports (image_id, created, report, sbom) VALUES (?, ?, ?, ?)",
                {id, manifest["created"].get<std::string>(), json_dump(vetting->report), vetting->sbom}));
            for (const auto& [kind, value] : vetting->identities)
                TRY(m_db.exec("INSERT INTO image_identities (image_id, kind, value) VALUES (?, ?, ?)", {id, kind, value}));
        }
        return {};
    }));
    log::info("imported image " + req.name + ":" + version + " (" + disk_digest + ")");
    return find(req.name + ":" + version);
}

Result<std::vector<ImageRecord>> ImageStore::list()
{
    std::vector<ImageRecord> out;
    for (const auto& row : TRY(m_db.query(std::string("SELECT ") + k_image_columns + " FROM images ORDER BY name, id")))
        out.push_back(TRY(record_from_row(row)));
    return out;
}

Result<ImageRecord> ImageStore::find(const std::string& ref)
{
    auto colon = ref.find(':');
    std::string name = ref.substr(0, colon);
    TRY(validate_name(name, "image name"));
    std::optional<Row> row;
    if (colon == std::string::npos) {
        row = TRY(m_db.query_one(std::string("SELECT ") + k_image_columns + " FROM images WHERE name = ? ORDER BY id DESC LIMIT 1", {name}));
    } else {
        std::string version = ref.substr(colon + 1);
        TRY(validate_name(version, "image version"));
        row = TRY(m_db.query_one(std::string("SELECT ") + k_image_columns + " FROM images WHERE name = ? AND version = ?", {name, version}));
    }
    if (!row)
        return Error(ErrorKind::NotFound, "image '" + ref + "' does not exist (see: bulwark image list)");
    return record_from_row(*row);
}

Result<ImageRecord> ImageStore::find_by_id(int64_t id)
{
    auto row = TRY(m_db.query_one(std::string("SELECT ") + k_image_columns + " FROM images WHERE id = ?", {id}));
    if (!row)
        return Error(ErrorKind::NotFound, "image #" + std::to_string(id) + " does not exist");
    return record_from_row(*row);
}

VoidResult ImageStore::verify_blob(const std::string& digest, VerifyDepth depth, const std::string& what)
{
    if (digest.rfind("sha256:", 0) != 0 || digest.size() != 71 || !from_hex(digest.substr(7)))
        return Error(ErrorKind::VerifyFailed, "its " + what + " digest in the manifest is malformed");
    std::string path = blob_path(digest);
    struct stat st {};
    if (::lstat(path.c_str(), &st) < 0)
        return Error(ErrorKind::VerifyFailed, "its " + what + " is missing from the library (" + path + ")");
    if (!S_ISREG(st.st_mode))
        return Error(ErrorKind::VerifyFailed, "its " + what + " in the library is not a regular file");
    if ((st.st_mode & 0222) != 0)
        return Error(ErrorKind::VerifyFailed, "its " + what + " in the library has been made writable");
    StatIdentity identity = identity_of(st);
    if (depth == VerifyDepth::SignatureOnly)
        return {};
    if (depth == VerifyDepth::Cached) {
        std::lock_guard lock(m_cache_mutex);
        auto it = m_verified.find(path);
        if (it != m_verified.end() && it->second == identity)
            return {};
    }
    Digest actual = TRY(Sha256::of_file(path));
    if ("sha256:" + to_hex(actual) != digest) {
        std::lock_guard lock(m_cache_mutex);
        m_verified.erase(path);
        return Error(ErrorKind::VerifyFailed, "its " + what + " does not match the signed digest (expected " + digest
                + ", found sha256:" + to_hex(actual) + "): it has been tampered with");
    }
    std::lock_guard lock(m_cache_mutex);
    m_verified[path] = identity;
    return {};
}

Result<VerifiedImage> ImageStore::verify(const ImageRecord& record, VerifyDepth depth)
{
    auto fail = [&](const Error& e) { return Error(ErrorKind::VerifyFailed, "image '" + record.ref() + "' failed verification: " + e.message()); };
    auto sig = from_hex(record.signature_hex);
    if (!sig || !verify_signature(m_key.public_key(), record.manifest_text, *sig))
        return fail(Error(ErrorKind::VerifyFailed, "its manifest signature is invalid (the manifest was altered or signed by another key)"));
    const Json& m = record.manifest;
    if (json_string_or(m, "schema", "") != "bulwark.image.v1" || json_string_or(m, "name", "") != record.name
        || json_string_or(m, "version", "") != record.version)
        return fail(Error(ErrorKind::VerifyFailed, "its signed manifest names a different image"));
    VerifiedImage out;
    out.record = record;
    if (!m.contains("disk") || !m["disk"].is_object())
        return fail(Error(ErrorKind::VerifyFailed, "its manifest has no disk"));
    std::string disk_digest = json_string_or(m["disk"], "digest", "");
    auto checked = verify_blob(disk_digest, depth, "disk");
    if (checked.is_error())
        return fail(checked.error());
    out.disk_path = blob_path(disk_digest);
    int64_t virtual_size = json_int_or(m["disk"], "virtual_size", 0);
    if (virtual_size <= 0)
        return fail(Error(ErrorKind::VerifyFailed, "its manifest has no valid virtual size"));
    out.virtual_size = static_cast<uint64_t>(virtual_size);
    if (m.contains("boot") && m["boot"].is_object()) {
        const Json& boot = m["boot"];
        std::string kd = boot.contains("kernel") ? json_string_or(boot["kernel"], "digest", "") : "";
        checked = verify_blob(kd, depth, "kernel");
        if (checked.is_error())
            return fail(checked.error());
        out.kernel_path = blob_path(kd);
        if (boot.contains("initrd")) {
            std::string id = json_string_or(boot["initrd"], "digest", "");
            checked = verify_blob(id, depth, "initrd");
            if (checked.is_error())
                return fail(checked.error());
            out.initrd_path = blob_path(id);
        }
        out.cmdline = json_string_or(boot, "cmdline", "");
    }
    return out;
}

static std::set<std::string> manifest_digests(const Json& m)
{
    std::set<std::string> out;
    if (m.contains("disk"))
        out.insert(json_string_or(m["disk"], "digest", ""));
    if (m.contains("boot")) {
        for (const char* part : {"kernel", "initrd"}) {
            if (m["boot"].contains(part))
                out.insert(json_string_or(m["boot"][part], "digest", ""));
        }
    }
    out.erase("");
    return out;
}

// A blob no manifest names is left by an import that failed after publishing it, or by a
// removal interrupted half-way. Runs at start-up, before any import can be in flight.
VoidResult ImageStore::sweep_unreferenced_blobs()
{
    std::set<std::string> named;
    auto images = list();
    if (images.is_error()) {
        // Better to keep a stray blob than to delete one an unreadable manifest still names.
        log::warn("not sweeping the image library: " + images.error().message());
        return {};
    }
    for (const auto& image : images.value()) {
        for (const auto& d : manifest_digests(image.manifest))
            named.insert(blob_path(d));
    }
    for (const auto& name : sys::list_dir(m_root + "/blobs")) {
        std::string path = m_root + "/blobs/" + name;
        if (named.count(path))
            continue;
        log::warn("removing " + path + ": no image names it");
        TRY(sys::unlink_if_exists(path));
    }
    return {};
}

VoidResult ImageStore::remove(const std::string& ref)
{
    std::lock_guard lock(m_import_mutex);
    ImageRecord rec = TRY(find(ref));
    auto users = TRY(m_db.query("SELECT name FROM vms WHERE image_id = ? ORDER BY name", {rec.id}));
    if (!users.empty()) {
        std::string names;
        for (const auto& u : users)
            names += (names.empty() ? "" : ", ") + u.text(0);
        return Error(ErrorKind::Conflict, "image '" + rec.ref() + "' is in use by guest(s) " + names + "; remove them first");
    }
    TRY(m_db.exec("DELETE FROM images WHERE id = ?", {rec.id}));
    // Blobs are content-addressed and may be shared with other versions: keep those still named.
    std::set<std::string> still_used;
    for (const auto& other : TRY(list())) {
        for (const auto& d : manifest_digests(other.manifest))
            still_used.insert(d);
    }
    for (const auto& d : manifest_digests(rec.manifest)) {
        if (!still_used.count(d))
            TRY(sys::unlink_if_exists(blob_path(d)));
    }
    log::info("removed image " + rec.ref());
    return {};
}

}  // namespace bulwark
