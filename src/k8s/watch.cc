#include "k8s/watch.h"

#include "common/log.h"

namespace ruo::k8s {

WatchStateMachine::WatchStateMachine(Backoff backoff, std::string start_resource_version)
    : backoff_(std::move(backoff)) {
  if (!start_resource_version.empty()) {
    state_ = State::kListed;
    resource_version_ = std::move(start_resource_version);
  }
}

WatchStateMachine::Action WatchStateMachine::Next() const {
  switch (state_) {
    case State::kEmpty:
      return {Step::kList, "", delay_};
    case State::kListed:
      return {Step::kWatch, resource_version_, delay_};
    // Watching means a stream is open: the runner should be reading it, not
    // asking; answering "watch" keeps the function total.
    case State::kWatching:
      return {Step::kWatch, resource_version_, std::chrono::milliseconds(0)};
    case State::kStopped:
      return {Step::kStop, resource_version_, std::chrono::milliseconds(0)};
  }
  return {Step::kStop, "", std::chrono::milliseconds(0)};
}

void WatchStateMachine::OnListed(const std::string& resource_version) {
  if (state_ == State::kStopped) return;
  state_ = State::kListed;
  resource_version_ = resource_version;
  delay_ = std::chrono::milliseconds(0);
  // The backoff is not reset here: a list that succeeds while every watch
  // fails must not turn into a tight loop.
}

void WatchStateMachine::OnListFailed(const Status& status) {
  if (state_ == State::kStopped) return;
  state_ = State::kEmpty;
  Fail(status);
}

void WatchStateMachine::OnWatchStarted() {
  if (state_ == State::kStopped) return;
  state_ = State::kWatching;
  delay_ = std::chrono::milliseconds(0);
}

void WatchStateMachine::OnWatchFailed(const Status& status) {
  if (state_ == State::kStopped) return;
  // 410: the resourceVersion is older than what the server keeps → relist.
  state_ = IsGone(status) ? State::kEmpty : State::kListed;
  Fail(status);
}

bool WatchStateMachine::OnEvent(const WatchEvent& event) {
  if (state_ == State::kStopped) return false;
  std::string rv = ResourceVersionOf(event.object);
  if (!rv.empty()) resource_version_ = std::move(rv);
  // Progress proves the watch is healthy.
  backoff_.Reset();
  return event.type != WatchEvent::Type::kBookmark;
}

void WatchStateMachine::OnStreamEnded(const Status& status) {
  if (state_ == State::kStopped) return;
  if (status.ok()) {
    // The server's timeoutSeconds elapsed: resume at once.
    state_ = State::kListed;
    delay_ = std::chrono::milliseconds(0);
    backoff_.Reset();
    return;
  }
  state_ = IsGone(status) ? State::kEmpty : State::kListed;
  Fail(status);
}

void WatchStateMachine::Stop() {
  state_ = State::kStopped;
}

void WatchStateMachine::Fail(const Status& /*status*/) {
  delay_ = backoff_.Next();
}

std::string_view WatchStateName(WatchStateMachine::State state) {
  switch (state) {
    case WatchStateMachine::State::kEmpty:
      return "Empty";
    case WatchStateMachine::State::kListed:
      return "Listed";
    case WatchStateMachine::State::kWatching:
      return "Watching";
    case WatchStateMachine::State::kStopped:
      return "Stopped";
  }
  return "Unknown";
}

Watcher::Watcher(Client& client, ResourceRef ref, std::string ns, WatcherOptions options,
                 WatchHandler& handler)
    : client_(client),
      ref_(std::move(ref)),
      ns_(std::move(ns)),
      options_(std::move(options)),
      handler_(handler),
      cancel_(CancelToken::Create()),
      machine_(Backoff(options_.initial_backoff, options_.max_backoff, 2.0, options_.jitter),
               options_.start_resource_version) {}

Watcher::~Watcher() {
  Stop();
}

void Watcher::Start() {
  if (thread_.joinable()) return;  // already started
  thread_ = std::thread([this] { Run(); });
}

void Watcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    machine_.Stop();
  }
  cancel_->Cancel();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

std::string Watcher::resource_version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return machine_.resource_version();
}

WatchStateMachine::State Watcher::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return machine_.state();
}

void Watcher::Run() {
  while (!cancel_->cancelled()) {
    WatchStateMachine::Action action;
    {
      std::lock_guard<std::mutex> lock(mu_);
      action = machine_.Next();
    }
    if (action.step == WatchStateMachine::Step::kStop) return;
    if (action.delay.count() > 0 && !cancel_->SleepFor(action.delay)) return;
    if (action.step == WatchStateMachine::Step::kList) {
      ListOnce();
    } else {
      WatchOnce(action.resource_version);
    }
  }
}

void Watcher::ListOnce() {
  ListOptions list_options;
  list_options.label_selector = options_.label_selector;
  list_options.field_selector = options_.field_selector;
  list_options.limit = options_.page_size;
  list_options.cancel = cancel_;
  auto result = client_.List(ref_, ns_, list_options);
  if (cancel_->cancelled()) return;
  if (!result.ok()) {
    spdlog::warn("list failed resource={} namespace={} error={}", ref_.resource, ns_,
                 result.status().ToString());
    handler_.OnError(result.status());
    std::lock_guard<std::mutex> lock(mu_);
    machine_.OnListFailed(result.status());
    return;
  }
  handler_.OnSync(result->items, result->resource_version);
  std::lock_guard<std::mutex> lock(mu_);
  machine_.OnListed(result->resource_version);
}

void Watcher::WatchOnce(const std::string& resource_version) {
  WatchOptions watch_options;
  watch_options.resource_version = resource_version;
  watch_options.label_selector = options_.label_selector;
  watch_options.field_selector = options_.field_selector;
  watch_options.timeout_seconds = options_.timeout_seconds;
  watch_options.allow_bookmarks = true;
  auto stream = client_.Watch(ref_, ns_, watch_options, cancel_);
  if (cancel_->cancelled()) return;
  if (!stream.ok()) {
    spdlog::warn("watch failed resource={} namespace={} rv={} error={}", ref_.resource, ns_,
                 resource_version, stream.status().ToString());
    handler_.OnError(stream.status());
    std::lock_guard<std::mutex> lock(mu_);
    machine_.OnWatchFailed(stream.status());
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    machine_.OnWatchStarted();
  }
  while (true) {
    auto event = (*stream)->Next();
    if (cancel_->cancelled()) return;
    if (!event.ok() || !event->has_value()) {
      Status status = event.ok() ? Status::Ok() : event.status();
      if (!status.ok()) {
        spdlog::info("watch ended resource={} namespace={} error={}", ref_.resource, ns_,
                     status.ToString());
        handler_.OnError(status);
      }
      std::lock_guard<std::mutex> lock(mu_);
      machine_.OnStreamEnded(status);
      return;
    }
    bool deliver;
    {
      std::lock_guard<std::mutex> lock(mu_);
      deliver = machine_.OnEvent(**event);
    }
    if (deliver) handler_.OnEvent(**event);
  }
}

}  // namespace ruo::k8s
