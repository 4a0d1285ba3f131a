// Names the trainer and the studio share beyond the wire protocol (ipc/protocol.h): the metric names a step
// and an evaluation record, the kinds of events, and the watchdog rules. One definition each; every file
// that writes or reads one of these names uses the constant (docs/protocol.md lists them).
#pragma once

#include <string>

namespace grpo::ipc {

// Metric names of one GRPO step (names follow TRL's GRPOTrainer where one exists).
namespace metric {
inline constexpr const char* kReward = "reward";  // mean weighted reward
inline constexpr const char* kRewardStd = "reward_std";
inline constexpr const char* kRewardMin = "reward/min";
inline constexpr const char* kRewardMax = "reward/max";
inline constexpr const char* kAccuracy = "accuracy";
inline constexpr const char* kFormatRate = "format_rate";
inline constexpr const char* kMeanLength = "completions/mean_length";
inline constexpr const char* kMinLength = "completions/min_length";
inline constexpr const char* kMaxLength = "completions/max_length";
inline constexpr const char* kClippedRatio = "completions/clipped_ratio";  // completions cut at max_new_tokens
inline constexpr const char* kVerifyRate = "self_verification/rate";
inline constexpr const char* kVerifyRateCorrect = "self_verification/rate_correct";
inline constexpr const char* kVerifyRateWrong = "self_verification/rate_wrong";
inline constexpr const char* kZeroStdFraction = "frac_reward_zero_std";  // groups whose rewards all agree
inline constexpr const char* kLoss = "loss";
inline constexpr const char* kKl = "kl";
inline constexpr const char* kEntropy = "entropy";
inline constexpr const char* kClipLow = "clip_ratio/low_mean";
inline constexpr const char* kClipHigh = "clip_ratio/high_mean";
inline constexpr const char* kClipRegion = "clip_ratio/region_mean";
inline constexpr const char* kGradNorm = "grad_norm";
inline constexpr const char* kSkippedUpdates = "updates/skipped_nonfinite";  // optimizer steps not taken
inline constexpr const char* kLearningRate = "learning_rate";
inline constexpr const char* kTemperature = "sampling/temperature";
inline constexpr const char* kBeta = "grpo/beta";
inline constexpr const char* kGroupsTrained = "groups/trained";
inline constexpr const char* kGroupsSampled = "groups/sampled";
inline constexpr const char* kTokensGenerated = "tokens/generated";
inline constexpr const char* kTokensTotal = "tokens/total";
inline constexpr const char* kTimeGeneration = "time/generation";
inline constexpr const char* kTimeRewards = "time/rewards";
inline constexpr const char* kTimeScoring = "time/scoring";
inline constexpr const char* kTimeTraining = "time/training";
inline constexpr const char* kTimeRecording = "time/recording";  // storing the step's samples
inline constexpr const char* kTimeStep = "time/step";
inline constexpr const char* kTimeWatchdogs = "time/watchdogs";
inline constexpr const char* kTimeEval = "time/eval";
inline constexpr const char* kTokensPerSecGeneration = "tokens_per_sec/generation";
inline constexpr const char* kTokensPerSecTraining = "tokens_per_sec/training";
inline constexpr const char* kWorldSize = "dist/world_size";

// Evaluations (recorded at the step they measured; step 0 is the starting model).
inline constexpr const char* kEvalGreedyAccuracy = "eval/greedy_accuracy";
inline constexpr const char* kEvalSampledAccuracy = "eval/sampled_accuracy";
inline constexpr const char* kEvalFirstAnswerAccuracy = "eval/first_answer_accuracy";
inline constexpr const char* kEvalCheckRate = "eval/check_rate";
inline constexpr const char* kEvalPCorrectChecked = "eval/p_correct_checked";
inline constexpr const char* kEvalPCorrectUnchecked = "eval/p_correct_unchecked";
inline constexpr const char* kEvalFormatRate = "eval/format_rate";
inline constexpr const char* kEvalMeanLength = "eval/mean_length";
inline constexpr const char* kEvalPassAtK = "eval/pass@k";
inline constexpr const char* kEvalSelfVerificationRate = "eval/self_verification_rate";

// One reward's mean: reward/<name>/mean (eval: eval/reward/<name>/mean).
inline std::string reward_part(const std::string& name) { return "reward/" + name + "/mean"; }
inline std::string eval_reward_part(const std::string& name) { return "eval/reward/" + name + "/mean"; }
}  // namespace metric

// Kinds of stored events (run store `events.kind`; published on protocol::kTopicEvent unless noted).
namespace event {
inline constexpr const char* kStart = "start";            // a new run: its config
inline constexpr const char* kResume = "resume";          // a resumed run: the checkpoint, steps discarded
inline constexpr const char* kFork = "fork";              // a fork's start: parent run, step, what changed
inline constexpr const char* kStatus = "status";          // a state change (kTopicStatus)
inline constexpr const char* kLog = "log";                // a log line (kTopicLog)
inline constexpr const char* kHparams = "hparams";        // live changes applied
inline constexpr const char* kCheckpoint = "checkpoint";  // a checkpoint written
inline constexpr const char* kWatchdog = "watchdog";      // a watchdog rule fired
inline constexpr const char* kEval = "eval";              // an evaluation's stored completions (eval samples)
inline constexpr const char* kStop = "stop";
inline constexpr const char* kFinish = "finish";
inline constexpr const char* kExport = "export";
}  // namespace event

// Watchdog rules (docs/watchdogs.md) and their actions; the config keys are watchdogs.<rule>.*.
namespace watchdog {
inline constexpr const char* kNonFinite = "nonfinite";
inline constexpr const char* kEntropyFloor = "entropy_floor";
inline constexpr const char* kKlCeiling = "kl_ceiling";
inline constexpr const char* kClippedCeiling = "clipped_ceiling";
inline constexpr const char* kZeroSpread = "zero_spread";
inline constexpr const char* kRewardDrop = "reward_drop";
inline constexpr const char* kLengthDrift = "length_drift";

inline constexpr const char* kActionOff = "off";
inline constexpr const char* kActionEvent = "event";  // recorded, nothing shown
inline constexpr const char* kActionAlert = "alert";  // recorded and shown (banner, chart marker)
inline constexpr const char* kActionPause = "pause";  // alert, and the run pauses before its next step
inline constexpr const char* kActionCheckpointPause = "checkpoint_pause";  // alert, checkpoint, then pause
}  // namespace watchdog

// Run store meta keys a fork writes (the studio draws lineage from them).
namespace meta {
inline constexpr const char* kParentRun = "parent_run";    // the parent's run id (its folder name)
inline constexpr const char* kParentDir = "parent_dir";    // the parent's folder, absolute
inline constexpr const char* kParentStep = "parent_step";  // the parent's step the fork starts from
}  // namespace meta

}  // namespace grpo::ipc
