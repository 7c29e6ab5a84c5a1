#include "json_schema_doc.hpp"

#include <fstream>
#include <stdexcept>

namespace rdd::test {

namespace {

std::string trim(std::string s) {
    const auto b = s.find_first_not_of(" \t");
    const auto e = s.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::string unquote(std::string s) {
    s = trim(std::move(s));
    if (s.size() >= 2 && s.front() == '`' && s.back() == '`') return s.substr(1, s.size() - 2);
    return s;
}

// Cells of a markdown table row "| a | b | c |".
std::vector<std::string> cells(const std::string& line) {
    std::vector<std::string> out;
    std::size_t start = 1;
    for (std::size_t bar = line.find('|', start); bar != std::string::npos; bar = line.find('|', start)) {
        out.push_back(trim(line.substr(start, bar - start)));
        start = bar + 1;
    }
    return out;
}

void check(const JsonSchemaDoc& doc, const std::string& where, const std::string& type, const nlohmann::json& v,
           std::vector<std::string>& problems);

void check_object(const JsonSchemaDoc& doc, const std::string& where, const std::string& object,
                  const nlohmann::json& v, std::vector<std::string>& problems) {
    const auto it = doc.objects.find(object);
    if (it == doc.objects.end()) {
        problems.push_back(where + ": the document has no object '" + object + "'");
        return;
    }
    if (!v.is_object()) {
        problems.push_back(where + ": expected object " + object + ", got " + v.type_name());
        return;
    }
    constexpr std::string_view kOptional = " (optional)";
    for (const auto& [field, type] : it->second) {
        const bool optional = type.ends_with(kOptional);
        if (!v.contains(field)) {
            if (!optional) problems.push_back(where + "." + field + ": missing");
            continue;
        }
        check(doc, where + "." + field, optional ? type.substr(0, type.size() - kOptional.size()) : type, v.at(field),
              problems);
    }
    for (const auto& [key, value] : v.items()) {
        bool documented = false;
        for (const auto& [field, type] : it->second) documented = documented || field == key;
        if (!documented) problems.push_back(where + "." + key + ": not documented (" + value.type_name() + ")");
    }
}

void check(const JsonSchemaDoc& doc, const std::string& where, const std::string& type, const nlohmann::json& v,
           std::vector<std::string>& problems) {
    constexpr std::string_view kOrNull = " or null";
    if (type.size() > kOrNull.size() && type.ends_with(kOrNull)) {
        if (v.is_null()) return;
        return check(doc, where, type.substr(0, type.size() - kOrNull.size()), v, problems);
    }
    const auto bad = [&] { problems.push_back(where + ": expected " + type + ", got " + v.dump()); };
    if (type == "integer") {
        if (!v.is_number_unsigned()) bad();  // nlohmann parses non-negative integers as unsigned
    } else if (type == "signed integer") {
        if (!v.is_number_integer()) bad();
    } else if (type == "number") {
        if (!v.is_number()) bad();
    } else if (type == "string") {
        if (!v.is_string()) bad();
    } else if (type == "boolean") {
        if (!v.is_boolean()) bad();
    } else if (type == "object of integer") {
        if (!v.is_object()) return bad();
        for (const auto& [key, value] : v.items()) check(doc, where + "." + key, "integer", value, problems);
    } else if (type.starts_with("array of ")) {
        if (!v.is_array()) return bad();
        for (std::size_t i = 0; i < v.size(); ++i) {
            check(doc, where + "[" + std::to_string(i) + "]", type.substr(9), v[i], problems);
        }
    } else {
        check_object(doc, where, type, v, problems);
    }
}

}  // namespace

JsonSchemaDoc read_json_schema_doc(const std::string& markdown_path) {
    std::ifstream in(markdown_path);
    if (!in) throw std::runtime_error("cannot read " + markdown_path);
    JsonSchemaDoc doc;
    std::string line, object;
    while (std::getline(in, line)) {
        if (line.rfind("### ", 0) == 0) {
            object = unquote(line.substr(4));
            doc.objects[object];
            continue;
        }
        if (object.empty() || line.rfind("|", 0) != 0) continue;
        const auto c = cells(line);
        if (c.size() < 2 || c[0] == "field" || c[0].starts_with("---")) continue;
        doc.objects[object].emplace_back(unquote(c[0]), c[1]);
    }
    return doc;
}

std::vector<std::string> check_against_doc(const JsonSchemaDoc& doc, const std::string& object,
                                           const nlohmann::json& value) {
    std::vector<std::string> problems;
    check_object(doc, object, object, value, problems);
    return problems;
}

}  // namespace rdd::test
