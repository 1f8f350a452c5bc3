// Fuzzes the SSH parsers of golden-image inspection (src/inspect): sshd_config with included
// files, authorized_keys, *.pub files and openssh-key-v1 private keys, and the checks over
// them.
//
// Input layout: parts separated by lines of "%%". The first is /etc/ssh/sshd_config; the
// others are /etc/ssh/sshd_config.d/<n>.conf (which an "Include" may pull in). The last part
// is also parsed as authorized_keys, and the whole input as a public and a private key file.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "inspect/ssh_keys.h"
#include "inspect/sshd_config.h"

using namespace bulwark::inspect;

static void check(bool condition)
{
    if (!condition)
        std::abort();
}

static void check_findings(const std::vector<Finding>& findings)
{
    for (const auto& f : findings) {
        check(f.id.compare(0, f.kind.size(), f.kind) == 0);
        check(f.excerpt.size() <= k_max_excerpt);
    }
}

static void check_key(const SshPublicKey& k)
{
    check(k.fingerprint.size() == 7 + 43 && k.fingerprint.compare(0, 7, "SHA256:") == 0);
    check(k.fingerprint == ssh_fingerprint(k.blob));
    check(k.blob.size() <= k_max_key_blob);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::string_view text(reinterpret_cast<const char*>(data), size);
    std::vector<std::string_view> parts;
    size_t start = 0;
    for (;;) {
        size_t sep = text.find("\n%%\n", start);
        if (sep == std::string_view::npos) {
            parts.push_back(text.substr(start));
            break;
        }
        parts.push_back(text.substr(start, sep - start + 1));
        start = sep + 4;
    }

    std::vector<std::string> names;
    for (size_t i = 1; i < parts.size(); ++i)
        names.push_back("/etc/ssh/sshd_config.d/" + std::to_string(i) + ".conf");
    std::vector<ConfigSource> extras;
    for (size_t i = 1; i < parts.size(); ++i)
        extras.push_back(ConfigSource { names[i - 1], parts[i] });
    SshdConfig config = parse_sshd_config(ConfigSource { "/etc/ssh/sshd_config", parts[0] }, extras);
    check(config.matches.size() <= k_sshd_max_matches);
    check(config.diagnostics.warnings.size() <= k_max_warnings);
    for (const auto& [k, s] : config.global)
        check(k == s.keyword && !s.value.empty());
    check_findings(check_sshd_config(config));
    check_findings(check_sshd_config(config, OpenSshVersion { 6, 6 }));
    auto e = sshd_effective(config.global);
    if (!config.global.count("permitrootlogin"))
        check(e.permit_root_login == "prohibit-password");

    AuthorizedKeys keys = parse_authorized_keys(parts.back());
    check(keys.keys.size() <= k_max_authorized_keys);
    for (const auto& k : keys.keys)
        check_key(k.key);
    check_findings(check_authorized_keys(keys, "/root/.ssh/authorized_keys", "root"));

    if (auto pub = parse_public_key_file(text); pub.is_ok())
        check_key(pub.value());
    if (auto priv = parse_openssh_private_key(text); priv.is_ok()) {
        check(!priv.value().public_keys.empty() && priv.value().public_keys.size() <= 16);
        for (const auto& k : priv.value().public_keys)
            check_key(k);
    }
    (void)parse_openssh_version(parts[0].substr(0, 64));
    return 0;
}
