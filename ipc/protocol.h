// The wire protocol between grpo-train and its clients, in one place: version, socket roles, topics,
// commands, error codes and limits (docs/protocol.md explains each). Like zguide's mdp.h: names only.
#pragma once

#include <cstddef>

namespace grpo::ipc::protocol {

inline constexpr int kVersion = 1;  // bumped on any incompatible change; every payload carries it as "v"

// Events: the trainer binds a PUB socket; frames are [topic, json].
inline constexpr const char* kTopicMetrics = "metrics";      // one step's scalars
inline constexpr const char* kTopicSamples = "samples";      // one step's stored completions
inline constexpr const char* kSplitTrain = "train";          // a samples payload's "split": a training step's
inline constexpr const char* kSplitEval = "eval";            // or an evaluation's held-out prompts
inline constexpr const char* kTopicStatus = "status";        // state machine changes
inline constexpr const char* kTopicEvent = "event";          // hyperparameter change, checkpoint, ...
inline constexpr const char* kTopicLog = "log";              // log lines
inline constexpr const char* kTopicHeartbeat = "heartbeat";  // 1 Hz, also while paused; not stored

// Trainer states (the "state" field of status, heartbeat and the status command).
inline constexpr const char* kStateStarting = "starting";
inline constexpr const char* kStateRunning = "running";
inline constexpr const char* kStatePaused = "paused";
inline constexpr const char* kStateCheckpointing = "checkpointing";
inline constexpr const char* kStateWaiting = "waiting";  // on something outside the trainer (a reward server); "reason" says what
inline constexpr const char* kStateStopping = "stopping";
inline constexpr const char* kStateFinished = "finished";
inline constexpr const char* kStateStopped = "stopped";  // by a stop command or a signal, after its checkpoint
inline constexpr const char* kStateFailed = "failed";

// Control: the trainer binds a ROUTER socket, clients connect DEALER sockets. Frames: [json] from a
// DEALER (ROUTER adds the identity). Request {v, id, cmd, args}; reply {v, id, ok, result | error}.
inline constexpr const char* kCmdHello = "hello";
inline constexpr const char* kCmdStatus = "status";
inline constexpr const char* kCmdPause = "pause";
inline constexpr const char* kCmdResume = "resume";
inline constexpr const char* kCmdStop = "stop";
inline constexpr const char* kCmdCheckpoint = "checkpoint";
inline constexpr const char* kCmdSet = "set";
inline constexpr const char* kCmdHistory = "history";

// Error codes of a reply's error.code.
inline constexpr const char* kErrBadRequest = "bad_request";          // not JSON, not an object, wrong frames
inline constexpr const char* kErrTooLarge = "too_large";              // over kMaxRequestBytes
inline constexpr const char* kErrVersion = "version_mismatch";        // "v" is not kVersion
inline constexpr const char* kErrUnknownCommand = "unknown_command";  // cmd not in the list above
inline constexpr const char* kErrInvalidArgs = "invalid_args";        // args of the wrong shape, type or range
inline constexpr const char* kErrWrongState = "wrong_state";          // e.g. resume while running
inline constexpr const char* kErrInternal = "internal";               // the trainer failed to carry it out

inline constexpr std::size_t kMaxRequestBytes = 64 * 1024;  // larger requests are refused, unread
inline constexpr int kHeartbeatMs = 1000;                   // heartbeat period
inline constexpr int kSilentAfterMs = 3000;                 // a client calls a trainer silent after this
inline constexpr int kHistoryMaxLimit = 10000;              // records per history page, at most

}  // namespace grpo::ipc::protocol
