#pragma once
// Deeply nested JSON documents for the nesting-limit tests of the parser and the scanner.
#include <cstddef>
#include <string>

namespace courier_test {

/// `depth` nested arrays: "[[...]]".
inline std::string nested_arrays(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

/// `depth` nested objects: {"k":{"k":...null}}.
inline std::string nested_objects(std::size_t depth) {
  std::string text;
  for (std::size_t i = 0; i < depth; ++i) text += "{\"k\":";
  return text + "null" + std::string(depth, '}');
}

}  // namespace courier_test
