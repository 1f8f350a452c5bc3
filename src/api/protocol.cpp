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
    return req;
}

std::string encode_request(const Request& request)
{
    Json params = request.params.is_null() ? Json::object() : request.params;
    return json_dump(Json {{"method", request.method}, {"params", params}}) + "\n";
}

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

Result<Json> decode_response(const std::string& line)
{
    auto doc = TRY_CTX(parse_json(line, {k_max_response_bytes, 64}), "bad response from bulwarkd");
    if (!doc.is_object() || !doc.contains("ok") || !doc["ok"].is_boolean())
        return Error(ErrorKind::Internal, "bad response from bulwarkd");
    if (doc["ok"].get<bool>())
        return doc.contains("result") ? doc["result"] : Json();
    const Json& err = doc.contains("error") ? doc["error"] : Json::object();
    auto kind = error_kind_from_name(json_string_or(err, "kind", "internal")).value_or(ErrorKind::Internal);
    return Error(kind, json_string_or(err, "message", "unknown error"));
}

}  // namespace bulwark
