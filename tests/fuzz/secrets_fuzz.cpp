// Fuzzes the secret scanner of golden-image inspection (src/inspect/secrets.h).
//
// Input layout: the first line is the file's path (it selects the rules), the rest is its
// content. The content is also scanned under one path of every file class, so that every
// rule sees every input.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "inspect/secrets.h"

using namespace bulwark::inspect;

static void check(bool condition)
{
    if (!condition)
        std::abort();
}

static bool printable(std::string_view s)
{
    for (unsigned char c : s) {
        if (c < 0x20 || c >= 0x7f)
            return false;
    }
    return true;
}

static void scan(std::string_view path, std::string_view content)
{
    auto findings = scan_content(path, content);
    check(findings.size() <= k_max_secret_findings + 2);
    for (const auto& f : findings) {
        check(f.kind.compare(0, 7, "secret.") == 0);
        check(f.id.compare(0, f.kind.size(), f.kind) == 0);
        check(f.excerpt.size() <= k_max_excerpt);
        check(printable(f.excerpt) && printable(f.id) && printable(f.message));
        check(f.kind == "secret.too-many" || f.kind == "secret.scan-incomplete" || f.line >= 1);
        // A redacted excerpt always ends with the mask (PEM headers included).
        if (f.kind != "secret.too-many" && f.kind != "secret.scan-incomplete")
            check(f.excerpt.find("****") != std::string::npos);
    }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::string_view text(reinterpret_cast<const char*>(data), size);
    size_t nl = text.find('\n');
    std::string_view path = nl == std::string_view::npos ? std::string_view {} : text.substr(0, std::min<size_t>(nl, 256));
    std::string_view content = nl == std::string_view::npos ? text : text.substr(nl + 1);
    (void)interesting_path(path);
    scan(path, content);
    for (std::string_view p : { "/root/.bash_history", "/root/.mysql_history", "/home/a/.netrc", "/root/.pgpass",
             "/root/.docker/config.json", "/srv/app/.env", "/etc/app.conf", "/root/.git-credentials", "/usr/bin/tool" })
        scan(p, content);
    return 0;
}
