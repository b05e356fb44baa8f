// The sub-commands of `jetgrad`: each registers itself on the root CLI11 app and sets the action
// main() runs when it was chosen.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace jetgrad::app {

CLI::App* add_train_command(CLI::App& root, std::function<int()>& run);
CLI::App* add_compare_command(CLI::App& root, std::function<int()>& run);
CLI::App* add_curvature_command(CLI::App& root, std::function<int()>& run);
CLI::App* add_check_command(CLI::App& root, std::function<int()>& run);

}  // namespace jetgrad::app
