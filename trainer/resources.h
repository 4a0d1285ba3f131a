// The shipped resources (resources/: built-in models, the chat-template renderer), found the same way by
// every part of the trainer. No LibTorch here.
#pragma once

#include <optional>
#include <string>

namespace grpo {

// A shipped resource, `relative` to the resources root: under $GRPO_RESOURCES_DIR, then the install's
// <exe dir>/../share/grpo-studio and <exe dir>/resources, then the source tree (GRPO_SOURCE_RESOURCES_DIR,
// when this file is compiled with it). The canonical path of the first that exists, or nullopt.
std::optional<std::string> find_resource(const std::string& relative);

// Where find_resource looks, for messages: "$GRPO_RESOURCES_DIR, <exe dir>/../share/grpo-studio, ...".
std::string resource_roots_description();

}  // namespace grpo
