// jetgrad's automatic differentiation: tensors, the tape, its sweeps and the functional API.
#pragma once

#include "autodiff/custom.hpp"
#include "autodiff/errors.hpp"
#include "autodiff/functional.hpp"
#include "autodiff/random.hpp"
#include "autodiff/tape.hpp"
#include "autodiff/tensor.hpp"
#include "autodiff/tensor_ops.hpp"
#include "autodiff/var.hpp"
