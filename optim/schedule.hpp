// Learning-rate schedules: functions from the step number (0-based) to a learning rate.
//
//   optim::CosineSchedule cosine(0.1, total_steps);
//   optim::WarmupSchedule schedule(cosine, 500);      // linear warm-up over the first 500 steps
//   optimizer.set_learning_rate(schedule(step));
#pragma once

#include <cstddef>
#include <memory>

namespace jetgrad::optim {

class Schedule {
 public:
  virtual ~Schedule() = default;
  virtual double operator()(std::size_t step) const = 0;
};

// lr · γ^⌊step / step_size⌋
class StepSchedule : public Schedule {
 public:
  StepSchedule(double lr, std::size_t step_size, double gamma);
  double operator()(std::size_t step) const override;

 private:
  double lr_;
  std::size_t step_size_;
  double gamma_;
};

// min + (lr − min) (1 + cos(π step / total)) / 2, constant at min after `total` steps.
class CosineSchedule : public Schedule {
 public:
  CosineSchedule(double lr, std::size_t total_steps, double min_lr = 0.0);
  double operator()(std::size_t step) const override;

 private:
  double lr_;
  std::size_t total_;
  double min_;
};

// Scales `inner` by (step + 1) / warmup during the first `warmup` steps.
class WarmupSchedule : public Schedule {
 public:
  WarmupSchedule(const Schedule& inner, std::size_t warmup_steps);
  double operator()(std::size_t step) const override;

 private:
  const Schedule& inner_;
  std::size_t warmup_;
};

}  // namespace jetgrad::optim
