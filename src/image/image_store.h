// The golden-image library: content-addressed, read-only blobs with signed manifests.
//
// Layout under <home>/images:
//   blobs/<sha256 hex>   disks (always qcow2), kernels, initrds; mode 0444, never rewritten
//   staging/             imports in progress (removed on failure and swept at start-up)
//
// Manifest (canonical JSON: sorted keys, no whitespace; this exact text is signed, Ed25519):
//   {"boot": {"cmdline": S, "initrd": {"digest": "sha256:H", "size": N},
//             "kernel": {"digest": "sha256:H", "size": N}},            (only for direct boot)
//    "created": RFC3339, "disk": {"digest": "sha256:H", "format": "qcow2",
//    "size": N, "source_format": "raw"|"qcow2", "virtual_size": N},
//    "name": S, "parent_version": S|null, "schema": "bulwark.image.v1",
//    "signer": "ed25519:<public key hex>", "version": S}
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <sys/stat.h>

#include "base/hash.h"
#include "base/json.h"
#include "base/result.h"

namespace bulwark {

class Db;
class SigningKey;

struct ImageRecord {
    int64_t id = 0;
    std::string name;
    std::string version;
    std::string manifest_text;  // exactly the bytes that were signed
    std::string signature_hex;
    Json manifest;

    std::string ref() const { return name + ":" + version; }
    Json to_json() const;
};

// What vetting the import produced, stored beside the image in the same transaction.
struct ImportVetting {
    Json report;                                              // the scan report
    std::string sbom;                                         // CycloneDX JSON
    std::vector<std::pair<std::string, std::string>> identities;  // (kind, value) clones would share
};

struct ImportRequest {
    std::string name;
    std::string version;  // empty: next integer version
    int disk_fd = -1;
    int kernel_fd = -1;  // -1: none
    int initrd_fd = -1;
    std::string cmdline;
    // Runs on the converted disk (an fd of the canonical qcow2 that would be stored) before
    // anything is published; an error refuses the import and nothing is stored. The Json
    // says {name, version, digest, format, virtual_size, source_format}.
    std::function<Result<ImportVetting>(int disk_fd, const Json& image)> vet;
};

// What a guest boots, after verification: absolute paths to verified blobs.
struct VerifiedImage {
    ImageRecord record;
    std::string disk_path;
    uint64_t virtual_size = 0;
    std::string kernel_path;  // empty when booting from the disk's bootloader
    std::string initrd_path;
    std::string cmdline;
};

// How much of an image verify() checks. The signature and the blobs' presence and modes are
// always checked; the digests are re-computed for Full, and for Cached unless the blob's
// inode, size, mtime and ctime are unchanged since its last full hash in this process.
enum class VerifyDepth { SignatureOnly, Cached, Full };

class ImageStore {
public:
    ImageStore(Db& db, const SigningKey& key, std::string root, std::string qemu_img);

    VoidResult initialise();  // creates the layout and sweeps staging/

    Result<ImageRecord> import(const ImportRequest& request);
    Result<std::vector<ImageRecord>> list();
    // "name" (latest version) or "name:version".
    Result<ImageRecord> find(const std::string& ref);
    Result<ImageRecord> find_by_id(int64_t id);
    // Checks the manifest signature and every blob the image boots (see VerifyDepth).
    Result<VerifiedImage> verify(const ImageRecord& record, VerifyDepth depth);
    VoidResult remove(const std::string& ref);

    std::string blob_path(const std::string& digest) const;

    Db& db() { return m_db; }

private:
    Result<std::string> store_blob(int fd, uint64_t max_bytes, const std::string& what);
    Result<std::string> ingest_disk(const ImportRequest& req, const std::string& version, Json& disk_info,
        std::optional<ImportVetting>& vetting);
    VoidResult verify_blob(const std::string& digest, VerifyDepth depth, const std::string& what);
    VoidResult sweep_unreferenced_blobs();

    Db& m_db;
    const SigningKey& m_key;
    std::string m_root;
    std::string m_qemu_img;

    struct StatIdentity {
        dev_t dev;
        ino_t ino;
        off_t size;
        int64_t mtime_ns;
        int64_t ctime_ns;
        bool operator==(const StatIdentity&) const = default;
    };
    static StatIdentity identity_of(const struct stat& st);
    Result<std::string> publish_blob(const std::string& staged, const Digest& digest);
    std::mutex m_cache_mutex;
    std::map<std::string, StatIdentity> m_verified;
    std::mutex m_import_mutex;
};

}  // namespace bulwark
