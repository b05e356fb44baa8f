// jetgrad: the command-line program. Sub-commands: train, compare, curvature, check (apps/*.cpp).
// Every failure ends with one line "jetgrad: error: ..." on stderr: exit status 2 for a bad command
// line, 1 for anything else (a missing or corrupt file, a checkpoint of another model, ...), 130
// after Ctrl-C.
#include <cstdio>
#include <exception>
#include <new>

#include "apps/commands.hpp"
#include "apps/common.hpp"

namespace {

int fail(int status, const std::string& message) {
  std::string m = message;
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  std::fprintf(stderr, "jetgrad: error: %s\n", m.c_str());
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace jetgrad::app;
  CLI::App app{
      "jetgrad: train models with exact higher-order derivatives, compare optimizers, measure curvature",
      "jetgrad"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "jetgrad 0.1.0");
  app.footer(
      "Run `jetgrad <command> --help` for the options of a command. Without arguments, `jetgrad compare`\n"
      "trains a small MLP on the embedded data with sgd, sam and gam (about a minute on 2 cores).");
  std::function<int()> train, compare, curvature, check;
  CLI::App* train_cmd = add_train_command(app, train);
  CLI::App* compare_cmd = add_compare_command(app, compare);
  CLI::App* curvature_cmd = add_curvature_command(app, curvature);
  CLI::App* check_cmd = add_check_command(app, check);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (argc > 1 && argv[1][0] != '-' && app.get_subcommands().empty()) {
      return fail(2, "unknown command '" + std::string(argv[1]) +
                         "' (expected train, compare, curvature or check; see jetgrad --help)");
    }
    return fail(2, std::string(e.what()) + " (see jetgrad " +
                       (app.get_subcommands().empty() ? std::string("")
                                                      : app.get_subcommands()[0]->get_name() + " ") +
                       "--help)");
  }
  try {
    if (train_cmd->parsed()) return train();
    if (compare_cmd->parsed()) return compare();
    if (curvature_cmd->parsed()) return curvature();
    if (check_cmd->parsed()) return check();
    return fail(2, "no command given (see jetgrad --help)");
  } catch (const UsageError& e) {
    return fail(2, e.what());
  } catch (const jetgrad::Error& e) {
    return fail(1, e.what());
  } catch (const std::bad_alloc&) {
    return fail(1, "out of memory (try a smaller --batch-size, --hidden or --curvature-batch)");
  } catch (const std::exception& e) {
    return fail(1, e.what());
  }
}
