// Findings: what the inspection of a golden image reports, one record per problem.
//
// Every finding has a stable id, "<kind>" or "<kind>:<subject>" (for example
// "account.empty-password:alice", "sudo.nopasswd:%admin", "ssh.permit-root-login",
// "secret.pem-private-key:/root/.ssh/id_rsa"), so that a policy can accept or refuse a
// finding by id and two inspections of the same image give the same ids. The severity here
// is a default; the policy layer decides what a finding means for an image.
//
// Subjects, messages and excerpts are built from attacker-controlled bytes, so they pass
// through display_text(): printable ASCII only, bounded length. Secret rules never put a
// secret into any field (see secrets.h).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace bulwark::inspect {

enum class Severity { Info, Low, Medium, High, Critical };

const char* severity_name(Severity severity);
std::optional<Severity> severity_from_name(std::string_view name);

inline constexpr size_t k_max_excerpt = 40;
inline constexpr size_t k_max_subject = 160;

struct Finding {
    std::string id; // "<kind>" or "<kind>:<subject>": stable across runs over the same image
    std::string kind; // e.g. "account.empty-password"
    Severity severity = Severity::Info;
    std::string path; // the file in the image the finding is about ("" when none)
    size_t line = 0; // 1-based; 0 when the finding is not about one line
    std::string message; // a sentence for the user
    std::string excerpt; // at most k_max_excerpt bytes; redacted for secrets
};

// Attacker bytes made safe to show: printable_text() (base/printable.h) with backslashes
// escaped. Printable ASCII but the backslash is kept, every other byte (control characters,
// DEL, non-ASCII, '\\') becomes \xNN, and the result is cut to max_bytes with "...".
std::string display_text(std::string_view bytes, size_t max_bytes = 128);

// A finding with id "<kind>:<display_text(subject)>", or "<kind>" when subject is empty.
Finding make_finding(std::string_view kind, std::string_view subject, Severity severity, std::string path, std::string message);

} // namespace bulwark::inspect
