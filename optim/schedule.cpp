#include "optim/schedule.hpp"

#include <cmath>
#include <numbers>
#include <string>

#include "autodiff/errors.hpp"

namespace jetgrad::optim {

StepSchedule::StepSchedule(double lr, std::size_t step_size, double gamma)
    : lr_(lr), step_size_(step_size), gamma_(gamma) {
  if (step_size_ == 0) throw ValueError("StepSchedule: step_size must be at least 1");
}
double StepSchedule::operator()(std::size_t step) const {
  return lr_ * std::pow(gamma_, static_cast<double>(step / step_size_));
}

CosineSchedule::CosineSchedule(double lr, std::size_t total_steps, double min_lr)
    : lr_(lr), total_(total_steps), min_(min_lr) {
  if (total_ == 0) throw ValueError("CosineSchedule: total_steps must be at least 1");
}
double CosineSchedule::operator()(std::size_t step) const {
  if (step >= total_) return min_;
  const double progress = static_cast<double>(step) / static_cast<double>(total_);
  return min_ + (lr_ - min_) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

WarmupSchedule::WarmupSchedule(const Schedule& inner, std::size_t warmup_steps)
    : inner_(inner), warmup_(warmup_steps) {}
double WarmupSchedule::operator()(std::size_t step) const {
  const double scale = step < warmup_ ? static_cast<double>(step + 1) / static_cast<double>(warmup_) : 1.0;
  return scale * inner_(step);
}

}  // namespace jetgrad::optim
