#pragma once
// docs/json-schema.md as data: the tables of each "### `name`" section, and a checker that
// holds a real --json output against them. The document is the single source: the test reads
// it, so the published schema and the program cannot drift apart unnoticed.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rdd::test {

// object name -> (field -> type as written in the table), fields in document order.
struct JsonSchemaDoc {
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> objects;
};

[[nodiscard]] JsonSchemaDoc read_json_schema_doc(const std::string& markdown_path);

// Problems with `value` as an instance of `object` ("field x: expected integer, got string",
// "field y: not documented", "field z: missing"); empty when it conforms.
[[nodiscard]] std::vector<std::string> check_against_doc(const JsonSchemaDoc& doc, const std::string& object,
                                                         const nlohmann::json& value);

}  // namespace rdd::test
