#pragma once
// A problem with what the user asked for (exit code 2): reported as one line, nothing changed.
#include <stdexcept>
#include <string>

namespace rdd {

class InputError : public std::runtime_error {
public:
    explicit InputError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace rdd
