// The templates of notifier messages (issue 11): mail subjects and bodies, IRC lines, chat
// messages, commit status contexts.
//
//   ${build.result}  ${build.url}  ${build.builder}  ... (MessageFields() lists them all)
//   ${prop:NAME}  ${prop:NAME:-default}   a build property, as in step arguments
//   $${                                   a literal "${"
//
// Secrets (${secret:...}) are not available in messages. Pure functions: the notify code fills
// the fields from the stored build.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/protocol.h"
#include "core/status.h"

namespace grove {

// The field names a template may use inside ${...}, besides prop:NAME.
const std::vector<std::string>& MessageFields();

// Checks that |text| is well formed and names only known fields (grove checkconfig); the error
// names the first bad ${...}.
Status CheckMessageTemplate(std::string_view text);

// Renders |text| with |fields| (MessageFields() names → values) and |properties| for prop:.
// A property that is not set and has no default is an error naming it.
Status RenderMessageTemplate(std::string_view text,
                             const std::map<std::string, std::string>& fields,
                             const Json& properties, std::string* out);

}  // namespace grove
