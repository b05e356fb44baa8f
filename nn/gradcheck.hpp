// Whole-module gradcheck: the reverse-mode derivative of a scalar loss with respect to every
// element of every parameter, against central finite differences.
//
//   Generator gen(0);
//   nn::Linear fc(3, 2, gen, true, DType::f64);            // float64 parameters are required
//   Tensor x = normal(Shape{4, 3}, 0.0, 1.0, gen);
//   auto report = nn::gradcheck(fc, [&](nn::Module& m, Tape& tape) {
//     return sum(nn::gelu(m(tape.constant(x))));
//   });
//   REQUIRE(report.passed);                                // report.str() names the worst entries
//
// loss_fn builds the loss on the tape it is given; the module's parameters are bound to that tape
// as variables (Parameter::bind with Tape::variable) before loss_fn runs. The values are restored
// afterwards, also when loss_fn throws. Parameters with requires_grad = false are skipped.
// loss_fn must be deterministic (reseed a Dropout inside it) and return one element.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "nn/module.hpp"

namespace jetgrad::nn {

struct ModuleGradcheckReport : GradcheckReport {
  std::vector<std::string> names;  // GradcheckEntry::input indexes this list (the parameters checked)
  std::string str() const;         // the table, with parameter names
};

ModuleGradcheckReport gradcheck(Module& module, const std::function<Var(Module&, Tape&)>& loss_fn,
                                const GradcheckOptions& options = {});

}  // namespace jetgrad::nn
