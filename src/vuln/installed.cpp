#include "vuln/installed.h"

#include <algorithm>
#include <optional>

#include "vuln/dpkg_version.h"
#include "vuln/text.h"

namespace bulwark::vuln {

static std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

static bool equals_ignore_case(std::string_view a, std::string_view b)
{
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
        char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
        if (x != y)
            return false;
    }
    return true;
}

// Calls f(line) for each line of text, without the '\n'.
template <typename F> static void for_each_line(std::string_view text, F f)
{
    while (!text.empty()) {
        size_t end = text.find('\n');
        f(text.substr(0, end));
        if (end == std::string_view::npos)
            break;
        text.remove_prefix(end + 1);
    }
}

Result<OsIdentity> parse_os_release(std::string_view text)
{
    if (text.size() > k_max_os_release_bytes)
        return Error(
            ErrorKind::InvalidArgument, "os-release is larger than " + std::to_string(k_max_os_release_bytes) + " bytes");
    OsIdentity os;
    os.id = "linux"; // os-release(5): the default when ID is not set
    for_each_line(text, [&](std::string_view line) {
        line = trim(line);
        if (line.empty() || line[0] == '#')
            return;
        size_t eq = line.find('=');
        if (eq == std::string_view::npos)
            return;
        std::string_view key = line.substr(0, eq);
        if (key != "ID" && key != "VERSION_ID")
            return;
        std::string_view raw = line.substr(eq + 1);
        std::string value;
        if (raw.size() >= 2 && raw.front() == '"' && raw.back() == '"') {
            raw = raw.substr(1, raw.size() - 2);
            for (size_t i = 0; i < raw.size(); ++i) {
                if (raw[i] == '\\' && i + 1 < raw.size())
                    ++i;
                value.push_back(raw[i]);
            }
        } else if (raw.size() >= 2 && raw.front() == '\'' && raw.back() == '\'') {
            value = std::string(raw.substr(1, raw.size() - 2));
        } else {
            value = std::string(raw);
        }
        (key == "ID" ? os.id : os.version_id) = std::move(value);
    });
    auto valid = [](const std::string& s) {
        return s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || is_ascii_digit(c) || c == '.' || c == '_' || c == '-';
        });
    };
    if (os.id.empty() || !valid(os.id))
        return Error(ErrorKind::InvalidArgument, "os-release has an invalid ID " + quote_text(os.id));
    if (!valid(os.version_id))
        return Error(ErrorKind::InvalidArgument, "os-release has an invalid VERSION_ID " + quote_text(os.version_id));
    return os;
}

namespace {

struct Paragraph {
    std::string_view package, version, architecture, status, source;
    size_t line = 0; // where it starts, for errors
    bool started = false;
    bool empty() const { return !started; }
};

// The dpkg state (third word of Status) says whether the package's files are on disk.
bool files_on_disk(std::string_view status)
{
    if (status.empty())
        return true; // no Status field: not dpkg's own file; take the package at its word
    size_t last_space = status.find_last_of(' ');
    std::string_view state = last_space == std::string_view::npos ? status : status.substr(last_space + 1);
    return state != "not-installed" && state != "config-files";
}

Result<InstalledPackage> to_package(const Paragraph& p)
{
    auto bad = [&](const std::string& why) {
        return Error(ErrorKind::Corrupt, "dpkg status, the paragraph at line " + std::to_string(p.line) + ": " + why);
    };
    if (p.package.empty())
        return bad("has no Package field");
    if (!is_valid_debian_name(p.package, 256))
        return bad("the package name " + quote_text(p.package) + " is invalid");
    if (p.version.empty())
        return bad("package " + quote_text(p.package) + " has no Version field");
    auto version = DpkgVersion::parse(p.version);
    if (version.is_error())
        return bad("package " + quote_text(p.package) + ": " + version.error().message());
    bool arch_ok = p.architecture.size() <= 64 && std::all_of(p.architecture.begin(), p.architecture.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || is_ascii_digit(c) || c == '-';
    });
    if (!arch_ok)
        return bad("package " + quote_text(p.package) + " has an invalid Architecture " + quote_text(p.architecture));

    InstalledPackage out;
    out.name = std::string(p.package);
    out.version = std::string(p.version);
    out.architecture = std::string(p.architecture);
    if (!p.source.empty()) {
        // "name" or "name (version)"
        size_t space = p.source.find(' ');
        std::string_view name = p.source.substr(0, space);
        std::string_view rest = space == std::string_view::npos ? std::string_view() : trim(p.source.substr(space));
        if (!is_valid_debian_name(name, 256))
            return bad("package " + quote_text(p.package) + " names an invalid source package " + quote_text(name));
        out.source_name = std::string(name);
        if (!rest.empty()) {
            if (rest.size() < 3 || rest.front() != '(' || rest.back() != ')')
                return bad("package " + quote_text(p.package) + " has a Source field " + quote_text(p.source)
                    + " not of the form 'name (version)'");
            std::string_view source_version = trim(rest.substr(1, rest.size() - 2));
            auto sv = DpkgVersion::parse(source_version);
            if (sv.is_error())
                return bad("package " + quote_text(p.package) + ", source version: " + sv.error().message());
            out.source_version = std::string(source_version);
        }
    }
    if (out.source_name.empty())
        out.source_name = out.name;
    if (out.source_version.empty())
        out.source_version = out.version;
    return out;
}

} // namespace

Result<std::vector<InstalledPackage>> parse_dpkg_status(std::string_view text, const DpkgStatusLimits& limits)
{
    if (text.size() > limits.max_bytes)
        return Error(
            ErrorKind::InvalidArgument, "the dpkg status file is larger than " + std::to_string(limits.max_bytes) + " bytes");
    std::vector<InstalledPackage> out;
    std::optional<Error> failure;
    Paragraph p;
    size_t line_no = 0;
    auto flush = [&]() {
        if (failure || p.empty())
            return;
        if (files_on_disk(p.status)) {
            if (out.size() == limits.max_packages) {
                failure = Error(ErrorKind::InvalidArgument,
                    "the dpkg status file lists more than " + std::to_string(limits.max_packages) + " packages");
                return;
            }
            auto pkg = to_package(p);
            if (pkg.is_error())
                failure = pkg.release_error();
            else
                out.push_back(pkg.release_value());
        }
        p = Paragraph();
    };
    for_each_line(text, [&](std::string_view line) {
        ++line_no;
        if (failure)
            return;
        if (trim(line).empty()) {
            flush();
            return;
        }
        if (line[0] == ' ' || line[0] == '\t')
            return; // a continuation line (Description, Conffiles, ...)
        if (!p.started) {
            p.started = true;
            p.line = line_no;
        }
        size_t colon = line.find(':');
        if (colon == std::string_view::npos)
            return;
        std::string_view key = line.substr(0, colon);
        std::string_view value = trim(line.substr(colon + 1));
        if (equals_ignore_case(key, "Package"))
            p.package = value;
        else if (equals_ignore_case(key, "Version"))
            p.version = value;
        else if (equals_ignore_case(key, "Architecture"))
            p.architecture = value;
        else if (equals_ignore_case(key, "Status"))
            p.status = value;
        else if (equals_ignore_case(key, "Source"))
            p.source = value;
    });
    flush();
    if (failure)
        return std::move(*failure);
    return out;
}

} // namespace bulwark::vuln
