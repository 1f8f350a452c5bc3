// A realistic scan report (docs/scan-report.md) shared by the report rendering tests: findings
// of several kinds with every outcome, a secret with a redacted excerpt, a path that needs URI
// escaping, vulnerabilities with and without score and fixed version, epochs and '+' in
// versions, and "libstdc++6"; sorted as the producer sorts (most severe first, then by id). A header, so that the unit test glob
// does not pick it up.
#pragma once

#include <string>

#include "base/json.h"

namespace bulwark::test {

inline constexpr const char* k_sample_digest = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
inline constexpr const char* k_sample_scanned_at = "2026-11-25T12:00:00Z";

inline Json sample_finding(const char* id, const char* kind, const char* severity, const char* path, int line,
    const char* message, const char* excerpt, const char* outcome, const char* rule)
{
    return Json { { "id", id }, { "kind", kind }, { "severity", severity }, { "path", path }, { "line", line },
        { "message", message }, { "excerpt", excerpt }, { "outcome", outcome }, { "rule", rule } };
}

inline Json sample_vulnerability(const char* advisory, Json aliases, const char* summary, const char* package,
    const char* version, const char* source_name, Json fixed, const char* severity, Json score, const char* outcome,
    const char* rule)
{
    return Json { { "id", std::string("vuln:") + advisory + ":" + package }, { "advisory", advisory },
        { "aliases", std::move(aliases) }, { "summary", summary }, { "package", package }, { "version", version },
        { "source_name", source_name }, { "source_version", version }, { "fixed_version", std::move(fixed) },
        { "severity", severity }, { "score", std::move(score) }, { "outcome", outcome }, { "rule", rule } };
}

inline Json sample_report()
{
    Json findings = Json::array({
        sample_finding("account.empty-password:bob", "account.empty-password", "critical", "/etc/shadow", 12,
            "Account 'bob' has an empty password: anyone can log in as bob.", "bob::19000:0:99999:7:::", "refuse",
            "refused kind account.empty-password"),
        sample_finding("file.world-writable:/opt/app data/run:x?#%", "file.world-writable", "high", "/opt/app data/run:x?#%", 0,
            "/opt/app data/run:x?#% is writable by every user.", "", "warn", "severity high at or above medium"),
        sample_finding("secret.pem-private-key:/root/.ssh/id_rsa", "secret.pem-private-key", "high", "/root/.ssh/id_rsa", 1,
            "A PEM private key is stored in /root/.ssh/id_rsa.", "-----BEGIN RSA PRIVATE KEY----- [redacted]", "refuse",
            "refused kind secret.*"),
        sample_finding("sudo.nopasswd:%admin", "sudo.nopasswd", "high", "/etc/sudoers.d/admin", 2,
            "Group 'admin' may run every command as root without a password.", "%admin ALL=(ALL) NOPASSWD: ALL", "excepted",
            "exception until 2027-01-31: the build pipeline needs it"),
        sample_finding("ssh.permit-root-login", "ssh.permit-root-login", "medium", "/etc/ssh/sshd_config", 33,
            "sshd allows root to log in with a password (PermitRootLogin yes).", "PermitRootLogin yes", "warn",
            "severity medium at or above medium"),
        sample_finding("account.login-shell:alice", "account.login-shell", "info", "/etc/passwd", 31,
            "Account 'alice' has a login shell (/bin/bash).", "alice:x:1000:1000::/home/alice:/bin/bash", "info",
            "severity info below medium"),
        sample_finding("systemd.enabled:ssh.service", "systemd.enabled", "info",
            "/etc/systemd/system/multi-user.target.wants/ssh.service", 0, "ssh.service is enabled at boot.", "", "ignored",
            "ignored kind systemd.enabled"),
    });
    Json vulnerabilities = Json::array({
        sample_vulnerability("DSA-5532-1", { "CVE-2023-5363" }, "openssl security update", "libssl3", "3.0.9-1", "openssl",
            "3.0.11-1~deb12u2", "high", 7.5, "warn", "vulnerability at or above low"),
        sample_vulnerability("DSA-5611-1", { "CVE-2023-6246", "CVE-2023-6779", "CVE-2023-6780" }, "glibc security update",
            "libc6", "2.36-9+deb12u4", "glibc", "2.36-9+deb12u7", "high", 7.8, "warn", "vulnerability at or above low"),
        sample_vulnerability("DSA-5678-1", { "CVE-2024-6387" }, "openssh security update (regreSSHion)", "openssh-server",
            "1:9.2p1-2+deb12u2", "openssh", "1:9.2p1-2+deb12u3", "high", 8.1, "refuse", "vulnerability at or above high"),
        sample_vulnerability("DEBIAN-CVE-2023-4039", { "CVE-2023-4039" },
            "GCC stack protector does not protect dynamically-sized local variables on AArch64", "libstdc++6", "12.2.0-14",
            "gcc-12", nullptr, "medium", nullptr, "warn", "vulnerability at or above low"),
        sample_vulnerability("OSV-2024-1234", Json::array(), "", "libssl3", "3.0.9-1", "openssl", nullptr, "low", 3.1, "excepted",
            "exception until 2027-03-01: not reachable in this image"),
    });
    return Json {
        { "schema", "bulwark.scan.v1" },
        { "image",
            { { "name", "web" }, { "version", "3" }, { "digest", k_sample_digest }, { "format", "qcow2" },
                { "virtual_size", 2147483648LL }, { "source", "import of web.qcow2" } } },
        { "scanned_at", k_sample_scanned_at },
        { "scanner",
            { { "version", "0.1.0" }, { "feed", { { "advisories", 1234 }, { "updated", "2026-11-20T08:00:00Z" } } },
                { "yara_rules", { "malware.yar" } } } },
        { "os",
            { { "id", "debian" }, { "version_id", "12" }, { "version_codename", "bookworm" },
                { "pretty_name", "Debian GNU/Linux 12 (bookworm)" } } },
        { "filesystems", Json::array() },
        { "packages",
            {
                { { "name", "libssl3" }, { "version", "3.0.9-1" }, { "architecture", "amd64" }, { "source_name", "openssl" },
                    { "source_version", "3.0.9-1" } },
                { { "name", "libstdc++6" }, { "version", "12.2.0-14" }, { "architecture", "amd64" }, { "source_name", "gcc-12" },
                    { "source_version", "12.2.0-14" } },
                { { "name", "openssh-server" }, { "version", "1:9.2p1-2+deb12u2" }, { "architecture", "amd64" },
                    { "source_name", "openssh" }, { "source_version", "1:9.2p1-2+deb12u2" } },
                { { "name", "tzdata" }, { "version", "2024a-0+deb12u1" }, { "architecture", "all" }, { "source_name", "tzdata" },
                    { "source_version", "2024a-0+deb12u1" } },
                { { "name", "libc6" }, { "version", "2.36-9+deb12u4" }, { "architecture", "amd64" }, { "source_name", "glibc" },
                    { "source_version", "2.36-9+deb12u4" } },
                { { "name", "libc6" }, { "version", "2.36-9+deb12u4" }, { "architecture", "i386" }, { "source_name", "glibc" },
                    { "source_version", "2.36-9+deb12u4" } },
            } },
        { "identity", { { "machine_id", "" }, { "ssh_host_keys", Json::array() } } },
        { "findings", std::move(findings) },
        { "vulnerabilities", std::move(vulnerabilities) },
        { "stats", { { "files", 18234 }, { "bytes_read", 123456789 }, { "bytes_scanned", 98765432 }, { "seconds", 0.84 } } },
        { "policy",
            { { "source", "built-in default" }, { "admitted", false },
                { "counts", { { "refuse", 3 }, { "warn", 5 }, { "info", 1 }, { "excepted", 2 }, { "ignored", 1 } } } } },
    };
}

// The same report, admitted: no refuse outcome anywhere.
inline Json admitted_sample_report()
{
    Json report = sample_report();
    for (const char* key : { "findings", "vulnerabilities" }) {
        for (Json& item : report[key]) {
            if (item["outcome"] == "refuse")
                item["outcome"] = "warn";
        }
    }
    report["policy"]["admitted"] = true;
    return report;
}

} // namespace bulwark::test
