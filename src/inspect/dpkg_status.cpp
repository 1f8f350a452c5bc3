#include "inspect/dpkg_status.h"

#include <array>

#include "inspect/finding.h"

namespace bulwark::inspect {

namespace {

bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool valid_architecture(std::string_view arch)
{
    if (arch.empty() || arch.size() > 64)
        return false;
    for (char c : arch) {
        if (!(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c != '-')
            return false;
    }
    return true;
}

// The fields this parser reads, in a fixed order so a stanza is a small array.
enum Field { Package, Version, Architecture, Status, Source, InstalledSize, Maintainer, Essential, Description, FieldCount };
constexpr std::array<std::string_view, FieldCount> k_field_names
    = { "package", "version", "architecture", "status", "source", "installed-size", "maintainer", "essential", "description" };

struct Stanza {
    std::array<std::optional<std::string_view>, FieldCount> fields;
    size_t line = 0;
    size_t field_count = 0;
    bool too_many_fields = false;
};

bool valid_field_name(std::string_view name)
{
    if (name.empty() || name.size() > 128 || name[0] == '#' || name[0] == '-')
        return false;
    for (char c : name) {
        if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f || c == ':')
            return false;
    }
    return true;
}

bool valid_want(std::string_view w)
{
    return w == "unknown" || w == "install" || w == "hold" || w == "deinstall" || w == "purge";
}

bool valid_state(std::string_view s)
{
    return s == "not-installed" || s == "config-files" || s == "half-installed" || s == "unpacked" || s == "half-configured"
        || s == "triggers-awaited" || s == "triggers-pending" || s == "installed";
}

class Parser {
public:
    explicit Parser(DpkgStatus& out)
        : m_out(out)
    {
    }

    void finish_stanza(Stanza& st)
    {
        if (st.line == 0)
            return;
        emit(st);
        st = Stanza {};
    }

private:
    void warn(size_t line, std::string message) { m_out.diagnostics.warn({}, line, std::move(message)); }

    void emit(const Stanza& st)
    {
        const auto& f = st.fields;
        if (!f[Package]) {
            warn(st.line, "stanza has no Package field; skipped");
            return;
        }
        std::string_view name = *f[Package];
        if (!valid_dpkg_package_name(name)) {
            warn(st.line, "invalid package name \"" + display_text(name, 64) + "\"; stanza skipped");
            return;
        }
        if (!f[Status]) {
            warn(st.line, "package " + std::string(name) + " has no Status field; skipped");
            return;
        }
        std::string_view status = *f[Status];
        auto words = split_fields(status, ' ', 3);
        if (!words || words->size() != 3 || !valid_want((*words)[0]) || ((*words)[1] != "ok" && (*words)[1] != "reinstreq")
            || !valid_state((*words)[2])) {
            warn(
                st.line, "package " + std::string(name) + " has an invalid Status \"" + display_text(status, 64) + "\"; skipped");
            return;
        }
        std::string_view flag = (*words)[1];
        std::string_view state = (*words)[2];
        if (state == "not-installed") {
            ++m_out.not_installed;
            return;
        }
        if (state == "config-files") {
            ++m_out.config_files;
            return;
        }
        DpkgPackage p;
        p.name = std::string(name);
        p.want = std::string((*words)[0]);
        p.flag = std::string(flag);
        p.state = std::string(state);
        p.line = st.line;
        if (!f[Version] || !valid_dpkg_version(*f[Version])) {
            warn(st.line, "package " + p.name + " has a missing or invalid Version; skipped");
            return;
        }
        p.version = std::string(*f[Version]);
        if (f[Architecture]) {
            if (valid_architecture(*f[Architecture]))
                p.architecture = std::string(*f[Architecture]);
            else
                warn(st.line, "package " + p.name + " has an invalid Architecture; ignored");
        }
        p.source_name = p.name;
        p.source_version = p.version;
        if (f[Source])
            parse_source(*f[Source], p, st.line);
        if (f[InstalledSize]) {
            p.installed_size_kib = parse_u64(*f[InstalledSize]);
            if (!p.installed_size_kib)
                warn(st.line, "package " + p.name + " has an invalid Installed-Size; ignored");
        }
        if (f[Maintainer])
            p.maintainer = std::string(*f[Maintainer]);
        if (f[Description])
            p.description = std::string(*f[Description]);
        if (f[Essential])
            p.essential = *f[Essential] == "yes";

        bool complete = flag == "ok" && (state == "installed" || state == "triggers-awaited" || state == "triggers-pending");
        auto& list = complete ? m_out.installed : m_out.incomplete;
        if (m_out.installed.size() + m_out.incomplete.size() >= k_dpkg_max_packages) {
            m_out.diagnostics.truncate(
                {}, st.line, "more than " + std::to_string(k_dpkg_max_packages) + " packages; the rest were ignored");
            return;
        }
        list.push_back(std::move(p));
    }

    void parse_source(std::string_view source, DpkgPackage& p, size_t line)
    {
        std::string_view name = source;
        std::string_view version;
        size_t paren = source.find('(');
        if (paren != std::string_view::npos) {
            name = trim(source.substr(0, paren));
            std::string_view rest = trim(source.substr(paren + 1));
            if (rest.empty() || rest.back() != ')') {
                warn(line, "package " + p.name + " has an invalid Source; ignored");
                return;
            }
            version = trim(rest.substr(0, rest.size() - 1));
            if (!valid_dpkg_version(version)) {
                warn(line, "package " + p.name + " has an invalid Source version; ignored");
                return;
            }
        }
        if (!valid_dpkg_package_name(name)) {
            warn(line, "package " + p.name + " has an invalid Source name; ignored");
            return;
        }
        p.source_name = std::string(name);
        if (!version.empty())
            p.source_version = std::string(version);
    }

    DpkgStatus& m_out;
};

} // namespace

bool valid_dpkg_package_name(std::string_view name)
{
    if (name.empty() || name.size() > 256 || !is_alnum(name[0]))
        return false;
    for (char c : name) {
        if (!is_alnum(c) && c != '+' && c != '-' && c != '.')
            return false;
    }
    return true;
}

bool valid_dpkg_version(std::string_view version)
{
    if (version.empty() || version.size() > 256)
        return false;
    size_t colon = version.find(':');
    if (colon != std::string_view::npos) {
        std::string_view epoch = version.substr(0, colon);
        if (!parse_u32(epoch) || epoch.size() > 9)
            return false;
        version = version.substr(colon + 1);
        if (version.empty())
            return false;
    }
    // dpkg only warns when the upstream part does not start with a digit, so neither do we:
    // refusing it would hide the package. The revision after the last '-' must not be empty.
    if (version.back() == '-')
        return false;
    for (char c : version) {
        if (!is_alnum(c) && c != '.' && c != '+' && c != '~' && c != '-' && c != ':')
            return false;
    }
    return true;
}

DpkgStatus parse_dpkg_status(std::string_view text)
{
    DpkgStatus out;
    Parser parser(out);
    LineReader reader(text, k_dpkg_status_limits, out.diagnostics);
    Stanza st;
    bool have_field = false;
    std::string_view line;
    while (reader.next(line)) {
        size_t n = reader.line_number();
        if (trim(line).empty()) {
            parser.finish_stanza(st);
            have_field = false;
            continue;
        }
        if (is_blank(line[0])) {
            if (!have_field)
                out.diagnostics.warn({}, n, "continuation line outside a field; skipped");
            // Continuations carry nothing this parser keeps (the Description's long text,
            // folded relationship fields, Conffiles).
            continue;
        }
        size_t colon = line.find(':');
        std::string_view name = colon == std::string_view::npos ? std::string_view {} : line.substr(0, colon);
        if (!valid_field_name(name)) {
            out.diagnostics.warn({}, n, "not a \"Field: value\" line; skipped");
            have_field = false;
            continue;
        }
        if (st.line == 0)
            st.line = n;
        have_field = true;
        if (++st.field_count > k_dpkg_max_fields_per_stanza) {
            if (!st.too_many_fields)
                out.diagnostics.warn({}, n,
                    "stanza has more than " + std::to_string(k_dpkg_max_fields_per_stanza) + " fields; the rest were ignored");
            st.too_many_fields = true;
            continue;
        }
        int current = -1;
        for (size_t i = 0; i < FieldCount; ++i) {
            if (iequals(name, k_field_names[i])) {
                current = static_cast<int>(i);
                break;
            }
        }
        if (current < 0)
            continue;
        if (st.fields[static_cast<size_t>(current)]) {
            out.diagnostics.warn({}, n,
                "field " + std::string(k_field_names[static_cast<size_t>(current)])
                    + " repeats in a stanza; the first one is used");
            continue;
        }
        st.fields[static_cast<size_t>(current)] = trim(line.substr(colon + 1));
    }
    parser.finish_stanza(st);
    return out;
}

} // namespace bulwark::inspect
