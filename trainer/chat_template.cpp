#include "trainer/chat_template.h"

#include "trainer/resources.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace grpo {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* const kPlainPrompts = "give plain text prompts (a string `prompt`) instead";
const char* const kInstall =
    "chat templates are rendered by Python 3 with jinja2>=3.1: install Debian's python3-jinja2 "
    "(apt-get install python3-jinja2), or set $GRPO_PYTHON to a Python 3 that has jinja2";

std::string where(const std::string& folder) {
  return folder.empty() ? std::string("chat template") : "chat template of '" + folder + "'";
}

std::string read_text(const fs::path& p, const std::string& folder) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw ChatTemplateError(where(folder) + ": cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json read_json_file(const fs::path& p, const std::string& folder) {
  try {
    return json::parse(read_text(p, folder));
  } catch (const json::parse_error& e) {
    throw ChatTemplateError(where(folder) + ": " + p.filename().string() + " is not valid JSON (" + e.what() + ")");
  }
}

// A special token as tokenizer_config.json writes it: a string, an AddedToken object {"content": ...}, or null.
std::optional<std::string> token_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

// tokenizer.special_tokens_map: the set special tokens, as strings (additional_special_tokens as a list).
void collect_special_tokens(const json& cfg, json& out) {
  static const char* const names[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                      "pad_token", "cls_token", "mask_token"};
  if (!cfg.is_object()) return;
  for (const char* n : names) {
    if (!cfg.contains(n)) continue;
    if (auto t = token_text(cfg[n]))
      out[n] = *t;
    else
      out.erase(n);
  }
  if (cfg.contains("additional_special_tokens") && cfg["additional_special_tokens"].is_array()) {
    json list = json::array();
    for (const auto& v : cfg["additional_special_tokens"])
      if (auto t = token_text(v)) list.push_back(*t);
    if (list.empty())
      out.erase("additional_special_tokens");
    else
      out["additional_special_tokens"] = list;
  }
}

void set_cloexec_nonblock(int fd) {
  ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

struct ProcessResult {
  std::string out, err;
  bool exited = false;  // normal exit (else signalled or unknown)
  int code = -1;        // exit code, or the signal number when !exited
  bool signalled = false;
  bool timed_out = false;  // killed after kRenderTimeout
};

// Longest a render may take: thousands of conversations take about a second; a template that never ends
// (a runaway loop) is killed rather than left to hang the trainer.
constexpr std::chrono::seconds kRenderTimeout{300};

// The three streams between the trainer and a child: the child's ends are closed once it is spawned.
struct ChildStreams {
  Fd in_parent, in_child, out_parent, out_child, err_parent, err_child;
};

// stdin is a socket (so writes can use MSG_NOSIGNAL), stdout and stderr are pipes. Throws
// ChatTemplateError when the system refuses one (what was opened is closed by c's owner).
void open_streams(ChildStreams& c) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    throw ChatTemplateError(std::string("socketpair failed: ") + std::strerror(errno));
  c.in_parent.fd = sv[0];
  c.in_child.fd = sv[1];
  int po[2], pe[2];
  if (::pipe2(po, O_CLOEXEC) != 0) throw ChatTemplateError(std::string("pipe failed: ") + std::strerror(errno));
  c.out_parent.fd = po[0];
  c.out_child.fd = po[1];
  if (::pipe2(pe, O_CLOEXEC) != 0) throw ChatTemplateError(std::string("pipe failed: ") + std::strerror(errno));
  c.err_parent.fd = pe[0];
  c.err_child.fd = pe[1];
  // The child reads a plain stream; half-close the child's write side so it is unidirectional.
  ::shutdown(c.in_child.fd, SHUT_WR);
}

// Spawns argv on the child's ends of `c` (closed afterwards, whatever happened). Returns the pid, or -1
// with `spawn_errno` set.
pid_t spawn(const std::vector<std::string>& argv, ChildStreams& c, int& spawn_errno) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, c.in_child.fd, 0);
  posix_spawn_file_actions_adddup2(&fa, c.out_child.fd, 1);
  posix_spawn_file_actions_adddup2(&fa, c.err_child.fd, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, dflt;
  sigemptyset(&none);
  sigemptyset(&dflt);
  sigaddset(&dflt, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &dflt);
  // Its own process group: a terminal's Ctrl-C is the trainer's to handle (finish the step, checkpoint), not
  // a reason to kill the render half way. If the trainer dies, the closed pipes end the helper.
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  c.in_child.reset();
  c.out_child.reset();
  c.err_child.reset();
  spawn_errno = rc;
  return rc == 0 ? pid : -1;
}

// Writes what the child's stdin takes now; closes it when all is written or the child stopped reading
// (EPIPE: its reply says why).
void send_input(Fd& in, const std::string& input, size_t& written) {
  for (;;) {
    const ssize_t w = ::send(in.fd, input.data() + written, input.size() - written, MSG_NOSIGNAL);
    if (w > 0) {
      written += static_cast<size_t>(w);
      if (written == input.size()) {
        in.reset();  // EOF for the child
        return;
      }
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    in.reset();
    return;
  }
}

// Reads what a stream holds now into `sink`; closes it at EOF or an error.
void drain(Fd& fd, std::string& sink) {
  char buf[65536];
  for (;;) {
    const ssize_t got = ::read(fd.fd, buf, sizeof buf);
    if (got > 0) {
      sink.append(buf, static_cast<size_t>(got));
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    fd.reset();
    return;
  }
}

// Feeds `input` and collects stdout and stderr until both close, interleaved by poll() so that large
// payloads cannot deadlock; kills the child at kRenderTimeout.
void exchange(pid_t pid, ChildStreams& c, const std::string& input, ProcessResult& r) {
  set_cloexec_nonblock(c.in_parent.fd);
  set_cloexec_nonblock(c.out_parent.fd);
  set_cloexec_nonblock(c.err_parent.fd);
  size_t written = 0;
  if (input.empty()) c.in_parent.reset();
  const auto deadline = std::chrono::steady_clock::now() + kRenderTimeout;
  while (c.out_parent.fd >= 0 || c.err_parent.fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      r.timed_out = true;
      break;
    }
    pollfd fds[3];
    int n = 0, i_in = -1, i_out = -1, i_err = -1;
    if (c.in_parent.fd >= 0) fds[i_in = n++] = {c.in_parent.fd, POLLOUT, 0};
    if (c.out_parent.fd >= 0) fds[i_out = n++] = {c.out_parent.fd, POLLIN, 0};
    if (c.err_parent.fd >= 0) fds[i_err = n++] = {c.err_parent.fd, POLLIN, 0};
    if (::poll(fds, n, static_cast<int>(std::min<int64_t>(left.count(), 1000))) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (i_in >= 0 && fds[i_in].revents) send_input(c.in_parent, input, written);
    if (i_out >= 0 && fds[i_out].revents) drain(c.out_parent, r.out);
    if (i_err >= 0 && fds[i_err].revents) drain(c.err_parent, r.err);
  }
  c.in_parent.reset();
}

// Waits for the child and records how it ended.
void reap(pid_t pid, ProcessResult& r) {
  int status = 0;
  pid_t w;
  do {
    w = ::waitpid(pid, &status, 0);
  } while (w < 0 && errno == EINTR);
  if (w != pid) return;
  if (WIFEXITED(status)) {
    r.exited = true;
    r.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.signalled = true;
    r.code = WTERMSIG(status);
  }
}

// Runs argv with `input` on its stdin, collecting stdout and stderr; stdin is a socket written with
// MSG_NOSIGNAL so a child that exits early gives EPIPE, not SIGPIPE. A failed spawn sets `spawn_errno`
// (and returns an empty result); a failed socketpair/pipe throws ChatTemplateError.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input, int& spawn_errno) {
  ChildStreams streams;
  open_streams(streams);
  ProcessResult r;
  const pid_t pid = spawn(argv, streams, spawn_errno);
  if (pid < 0) return r;
  exchange(pid, streams, input, r);
  reap(pid, r);
  return r;
}

std::string tail(const std::string& s, size_t n = 2000) {
  std::string t = s.size() > n ? "..." + s.substr(s.size() - n) : s;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t;
}

}  // namespace

void validate_conversation(const json& messages, size_t index) {
  const std::string conv = "conversation " + std::to_string(index);
  if (!messages.is_array()) throw ChatTemplateError(conv + ": must be a list of messages, got " + messages.type_name());
  if (messages.empty()) throw ChatTemplateError(conv + ": has no messages");
  for (size_t m = 0; m < messages.size(); ++m) {
    const json& msg = messages[m];
    const std::string at = conv + ", message " + std::to_string(m);
    if (!msg.is_object()) throw ChatTemplateError(at + ": must be an object {role, content}, got " + msg.type_name());
    if (!msg.contains("role")) throw ChatTemplateError(at + ": has no \"role\"");
    if (!msg["role"].is_string())
      throw ChatTemplateError(at + ": \"role\" must be a string, got " + std::string(msg["role"].type_name()));
    if (!msg.contains("content")) throw ChatTemplateError(at + ": has no \"content\"");
    const json& c = msg["content"];
    if (c.is_string()) continue;
    if (!c.is_array())
      throw ChatTemplateError(at + ": \"content\" must be a string or a list of parts, got " + std::string(c.type_name()));
    for (size_t p = 0; p < c.size(); ++p) {
      const std::string part = at + ", content part " + std::to_string(p);
      if (!c[p].is_object() || !c[p].contains("type") || !c[p]["type"].is_string())
        throw ChatTemplateError(part + ": must be an object with a string \"type\"");
      if (c[p]["type"] == "text" && !(c[p].contains("text") && c[p]["text"].is_string()))
        throw ChatTemplateError(part + ": a \"text\" part needs a string \"text\"");
    }
  }
}

std::optional<ChatTemplate> ChatTemplate::from_folder(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw ChatTemplateError(where(dir) + ": not a folder");
  const fs::path root(dir);
  ChatTemplate t;
  t.folder = dir;
  json cfg;
  const fs::path cfg_path = root / "tokenizer_config.json";
  if (fs::exists(cfg_path, ec)) {
    cfg = read_json_file(cfg_path, dir);
    if (!cfg.is_object()) throw ChatTemplateError(where(dir) + ": tokenizer_config.json is not a JSON object");
    collect_special_tokens(cfg, t.special_tokens);
  }
  const fs::path map_path = root / "special_tokens_map.json";
  if (fs::exists(map_path, ec)) collect_special_tokens(read_json_file(map_path, dir), t.special_tokens);

  const fs::path jinja_path = root / "chat_template.jinja";
  if (fs::exists(jinja_path, ec)) {
    t.source = read_text(jinja_path, dir);
    return t;
  }
  if (!cfg.is_object() || !cfg.contains("chat_template") || cfg["chat_template"].is_null()) return std::nullopt;
  const json& ct = cfg["chat_template"];
  if (ct.is_string()) {
    t.source = ct.get<std::string>();
    return t;
  }
  if (ct.is_array()) {
    std::string names;
    for (const auto& e : ct) {
      if (!e.is_object() || !e.contains("name") || !e["name"].is_string() || !e.contains("template") ||
          !e["template"].is_string())
        throw ChatTemplateError(where(dir) + ": tokenizer_config.json's chat_template list must hold {name, template} objects");
      if (e["name"] == "default") {
        t.source = e["template"].get<std::string>();
        return t;
      }
      names += (names.empty() ? "" : ", ") + e["name"].get<std::string>();
    }
    throw ChatTemplateError(where(dir) + ": tokenizer_config.json names chat templates (" + names +
                            ") but none called \"default\"; " + kPlainPrompts);
  }
  throw ChatTemplateError(where(dir) + ": tokenizer_config.json's chat_template must be a string or a list of {name, template}, got " +
                          std::string(ct.type_name()));
}

std::vector<std::string> ChatTemplate::render(const std::vector<json>& conversations, bool add_generation_prompt,
                                              const json& variables) const {
  if (conversations.empty()) return {};
  if (!variables.is_null() && !variables.is_object())
    throw ChatTemplateError(where(folder) + ": template variables must be a JSON object");
  for (size_t i = 0; i < conversations.size(); ++i) {
    try {
      validate_conversation(conversations[i], i);
    } catch (const ChatTemplateError& e) {
      throw ChatTemplateError(where(folder) + ": " + e.what());
    }
  }

  json vars = special_tokens.is_object() ? special_tokens : json::object();
  if (variables.is_object())
    for (auto it = variables.begin(); it != variables.end(); ++it) vars[it.key()] = it.value();
  json request = {{"template", source},
                  {"add_generation_prompt", add_generation_prompt},
                  {"variables", std::move(vars)},
                  {"conversations", conversations}};
  std::string payload;
  try {
    payload = request.dump();
  } catch (const json::type_error&) {  // invalid UTF-8 somewhere: name where
    for (size_t i = 0; i < conversations.size(); ++i) {
      try {
        (void)conversations[i].dump();
      } catch (const json::type_error&) {
        throw ChatTemplateError(where(folder) + ": conversation " + std::to_string(i) + " is not valid UTF-8 text");
      }
    }
    throw ChatTemplateError(where(folder) + ": the template or its variables are not valid UTF-8 text");
  }

  const auto script = find_resource("scripts/render_chat_template.py");
  if (!script)
    throw ChatTemplateError(where(folder) +
                            ": the helper scripts/render_chat_template.py was not found (looked under " +
                            resource_roots_description() + "); set GRPO_RESOURCES_DIR to the install's resources folder");
  std::string python = "/usr/bin/python3";
  if (const char* env = std::getenv("GRPO_PYTHON"); env && *env) python = env;

  int spawn_errno = 0;
  const ProcessResult r = run_process({python, *script}, payload, spawn_errno);
  if (spawn_errno != 0)
    throw ChatTemplateError(where(folder) + ": cannot run " + python + " (" + std::strerror(spawn_errno) + "); " + kInstall);
  if (r.timed_out)
    throw ChatTemplateError(where(folder) + ": rendering took longer than " + std::to_string(kRenderTimeout.count()) +
                            " s and was stopped (a template that never ends?); give plain text prompts (a string "
                            "`prompt`) instead");
  if (r.signalled)
    throw ChatTemplateError(where(folder) + ": " + python + " " + *script + " was killed by signal " +
                            std::to_string(r.code) + (r.err.empty() ? "" : ": " + tail(r.err)));

  json reply;
  try {
    reply = json::parse(r.out);
  } catch (const json::parse_error&) {
    throw ChatTemplateError(where(folder) + ": " + python + " " + *script + " failed (exit " + std::to_string(r.code) +
                            ")" + (r.err.empty() ? "" : ": " + tail(r.err)) + "; " + kInstall);
  }
  const std::string err = reply.is_object() && reply.contains("error") && reply["error"].is_string()
                              ? reply["error"].get<std::string>()
                              : std::string();
  if (r.code == 3 || (reply.is_object() && reply.contains("missing")))
    throw ChatTemplateError(where(folder) + ": " + err + "; " + kInstall);
  if (r.code == 2) {
    std::string msg = where(folder);
    if (reply.contains("conversation") && reply["conversation"].is_number_integer())
      msg += " failed on conversation " + std::to_string(reply["conversation"].get<long long>()) + ": ";
    else
      msg += " cannot be used: ";
    throw ChatTemplateError(msg + err + "; " + kPlainPrompts);
  }
  if (r.code != 0 || !err.empty() || !reply.is_object() || !reply.contains("rendered") || !reply["rendered"].is_array())
    throw ChatTemplateError(where(folder) + ": the helper " + *script + " failed (exit " + std::to_string(r.code) + ")" +
                            (err.empty() ? "" : ": " + err) + (r.err.empty() ? "" : ": " + tail(r.err)));
  const json& rendered = reply["rendered"];
  if (rendered.size() != conversations.size())
    throw ChatTemplateError(where(folder) + ": the helper returned " + std::to_string(rendered.size()) +
                            " renderings for " + std::to_string(conversations.size()) + " conversations");
  std::vector<std::string> out;
  out.reserve(rendered.size());
  for (const auto& s : rendered) {
    if (!s.is_string()) throw ChatTemplateError(where(folder) + ": the helper returned a non-string rendering");
    out.push_back(s.get<std::string>());
  }
  return out;
}

}  // namespace grpo
