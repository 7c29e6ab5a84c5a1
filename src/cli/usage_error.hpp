#pragma once
#include "reflinkdedup/app/input_error.hpp"

namespace rdd::cli {

// A malformed command line (exit code 2, with a pointer to --help).
class UsageError : public InputError {
public:
    using InputError::InputError;
};

}  // namespace rdd::cli
