// Parsing a SparsePlan's JS spec (sparse_plan_spec.cc).
#pragma once

#include <napi.h>

#include <memory>

#include "sparse_plan.h"

namespace ss::plan {

// The plan the spec describes, validated and laid out; a TypeError naming
// the step (steps[i] (name): ...) for anything that does not fit.
std::unique_ptr<Plan> ParsePlan(Napi::Env env, const Napi::Value& spec);

}  // namespace ss::plan
