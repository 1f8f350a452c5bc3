#include "api/protocol.h"

namespace bulwark {

Result<Request> parse_request(const std::string& line)
{
    auto doc = TRY_CTX(parse_json(line, {k_max_request_bytes, 16}), "bad request");
    if (!doc.is_object())
        return Error(ErrorKind::InvalidArgument, "bad request: not a JSON object");
    Request req;
    req.method = TRY_CTX(json_string(doc, "method"), "bad request");
    if (req.method.empty() || req.method.size() > 64)
        return Error(ErrorKind::InvalidArgument, "bad request: invalid method");
    if (doc.contains("params")) {
        if (!doc["params"].is_object())
            return Error(ErrorKind::InvalidArgument, "bad request: params must be an object");
        req.params = doc["params"];
    }
    if (doc.contains("progress")) {
        if (!doc["progress"].is_boolean())
            return Error(ErrorKind::InvalidArgument, "bad request: progress must be true or false");
        req.progress = doc["progress"].get<bool>();
    }
    return req;
}

std::string encode_request(const Request& request)
{
    Json params = request.params.is_null() ? Json::object() : request.params;
    Json doc {{"method", request.method}, {"params", params}};
    // Only when asked for, so a request reads exactly as before to a bulwarkd that predates it.
    if (request.progress)
        doc["progress"] = true;
    return json_dump(doc) + "\n";
}

std::optional<Progress> Progress::from_json(const Json& doc)
{
    if (!doc.is_object())
        return std::nullopt;
    Progress p;
    const std::pair<const char*, uint64_t*> fields[] {{"files", &p.files}, {"files_total", &p.files_total}, {"bytes", &p.bytes}};
    for (auto [key, field] : fields) {
        if (!doc.contains(key) || !doc[key].is_number_unsigned())
            return std::nullopt;
        *field = doc[key].get<uint64_t>();
    }
    if (p.files > p.files_total)
        return std::nullopt;
    return p;
}

std::string encode_progress(const Progress& progress) { return json_dump(Json {{"progress", progress.to_json()}}) + "\n"; }

std::string encode_response(const Result<Json>& result)
{
    Json doc;
    if (result.is_ok())
        doc = Json {{"ok", true}, {"result", result.value()}};
    else
        doc = Json {{"ok", false}, {"error", {{"kind", error_kind_name(result.error().kind())}, {"message", result.error().message()}}}};
    // Strings that reach a response may hold bytes from a guest: never let them break the
    // encoding.
    return json_dump(doc) + "\n";
}

namespace {

Result<Json> decode_answer(const Json& doc)
{
    if (!doc.is_object() || !doc.contains("ok") || !doc["ok"].is_boolean())
        return Error(ErrorKind::Internal, "bad response from bulwarkd");
    if (doc["ok"].get<bool>())
        return doc.contains("result") ? doc["result"] : Json();
    const Json& err = doc.contains("error") ? doc["error"] : Json::object();
    auto kind = error_kind_from_name(json_string_or(err, "kind", "internal")).value_or(ErrorKind::Internal);
    return Error(kind, json_string_or(err, "message", "unknown error"));
}

}  // namespace

ResponseLine decode_response_line(const std::string& line)
{
    ResponseLine out;
    auto doc = parse_json(line, {k_max_response_bytes, 64});
    if (doc.is_error()) {
        out.result = doc.release_error().with_context("bad response from bulwarkd");
        return out;
    }
    const Json& j = doc.value();
    if (j.is_object() && j.contains("progress") && !j.contains("ok")) {
        // Progress is only shown, so a line that does not read is skipped, not an error.
        out.interim = true;
        out.progress = Progress::from_json(j["progress"]);
        return out;
    }
    out.result = decode_answer(j);
    return out;
}

Result<Json> decode_response(const std::string& line)
{
    auto doc = TRY_CTX(parse_json(line, {k_max_response_bytes, 64}), "bad response from bulwarkd");
    return decode_answer(doc);
}

}  // namespace bulwark
