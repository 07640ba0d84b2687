#pragma once
// Text made safe to place in HTML or XML content and attribute values: the report's and the
// dashboard's names, and the keys in an S3 DeleteObjects body.
#include <string>

namespace fedsilo {

// & < > " ' as character references.
std::string escape_markup(const std::string& text);

}  // namespace fedsilo
