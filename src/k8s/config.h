// Where the API server is and how to authenticate to it: from a kubeconfig
// file (parsed with yaml-cpp) or from the pod's service account.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace ruo::k8s {

// Supplies the bearer token for each request.
class TokenSource {
 public:
  virtual ~TokenSource() = default;
  virtual StatusOr<std::string> Token() = 0;
  // The server rejected the token (401): the next Token() should fetch afresh.
  virtual void Invalidate() {}
};

class StaticTokenSource final : public TokenSource {
 public:
  explicit StaticTokenSource(std::string token) : token_(std::move(token)) {}
  StatusOr<std::string> Token() override { return token_; }

 private:
  const std::string token_;
};

// Reads the token from a file and re-reads it once the cached copy is older
// than `max_age` (or after Invalidate()), because projected service-account
// tokens are rotated by the kubelet and must never be cached forever.
class FileTokenSource final : public TokenSource {
 public:
  explicit FileTokenSource(std::string path,
                           std::chrono::seconds max_age = std::chrono::seconds(60),
                           Clock& clock = RealClock());
  StatusOr<std::string> Token() override;
  void Invalidate() override;
  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  const std::chrono::seconds max_age_;
  Clock& clock_;
  std::mutex mu_;
  std::string token_;
  bool have_token_ = false;
  std::chrono::steady_clock::time_point read_at_;
};

struct RestConfig {
  std::string server;           // "https://127.0.0.1:6443" (a path prefix is allowed)
  std::string ca_pem;           // trusted CA bundle for the server; empty: system roots
  std::string client_cert_pem;  // client certificate chain (mutual TLS); optional
  std::string client_key_pem;   // its private key
  // Bearer token; null when the client certificate authenticates. Shared so
  // copies of the config (and the transport built from it) share one cache.
  std::shared_ptr<TokenSource> token_source;
  std::string namespace_name = "default";  // the context's / pod's namespace
  std::string user_agent = "redis-upgrade-operator";
};

// Parses kubeconfig text. `base_dir` resolves relative file references;
// `context` empty means current-context.
StatusOr<RestConfig> ParseKubeconfig(std::string_view yaml, const std::string& base_dir,
                                     const std::string& context = {});

// Reads and parses the kubeconfig file at `path`.
StatusOr<RestConfig> LoadKubeconfig(const std::string& path, const std::string& context = {});

// In-cluster config from explicit parts: `dir` holds token, ca.crt and namespace.
StatusOr<RestConfig> LoadInClusterFrom(const std::string& host, const std::string& port,
                                       const std::string& dir);

// In-cluster config from KUBERNETES_SERVICE_HOST/_PORT and the service-account
// directory ($RUO_SERVICEACCOUNT_DIR, else /var/run/secrets/kubernetes.io/serviceaccount).
// kFailedPrecondition when not running in a cluster.
StatusOr<RestConfig> LoadInCluster();

// The usual lookup: the flag, else $KUBECONFIG (first existing entry of the
// list; files are not merged), else in-cluster, else ~/.kube/config.
StatusOr<RestConfig> LoadDefault(const std::string& kubeconfig_flag,
                                 const std::string& context = {});

// Standard base64 (padding and embedded whitespace tolerated).
StatusOr<std::string> Base64Decode(std::string_view in);
std::string Base64Encode(std::string_view in);

}  // namespace ruo::k8s
