#include "k8s/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

namespace ruo::k8s {
namespace {

constexpr char kDefaultServiceAccountDir[] = "/var/run/secrets/kubernetes.io/serviceaccount";

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Unavailable("error reading " + path);
  return ss.str();
}

std::string Trim(std::string s) {
  const char* ws = " \t\r\n";
  s.erase(s.find_last_not_of(ws) + 1);
  s.erase(0, s.find_first_not_of(ws));
  return s;
}

std::string ResolvePath(const std::string& base_dir, const std::string& p) {
  std::filesystem::path path(p);
  if (path.is_absolute() || base_dir.empty()) return p;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

std::string GetEnv(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// Finds the entry named `name` in a kubeconfig list (clusters/users/contexts)
// and returns its `field` map (std::nullopt when absent: a default YAML::Node
// is a defined null node, so it cannot signal "missing").
std::optional<YAML::Node> FindNamed(const YAML::Node& list, const std::string& name,
                                    const char* field) {
  if (!list || !list.IsSequence()) return std::nullopt;
  for (const auto& entry : list) {
    if (entry["name"] && entry["name"].as<std::string>() == name) {
      YAML::Node value = entry[field];
      if (!value || !value.IsMap()) return std::nullopt;
      return value;
    }
  }
  return std::nullopt;
}

std::string Scalar(const YAML::Node& node, const char* key) {
  if (!node || !node[key] || node[key].IsNull()) return {};
  return node[key].as<std::string>();
}

// A credential given either inline (`<key>-data`, base64) or as a file.
StatusOr<std::string> FileOrData(const YAML::Node& node, const std::string& key,
                                 const std::string& base_dir) {
  std::string data = Scalar(node, (key + "-data").c_str());
  if (!data.empty()) {
    auto decoded = Base64Decode(data);
    if (!decoded.ok()) return decoded.status().Annotate(key + "-data");
    return decoded;
  }
  std::string file = Scalar(node, key.c_str());
  if (file.empty()) return std::string();
  auto content = ReadFile(ResolvePath(base_dir, file));
  if (!content.ok()) return content.status().Annotate(key);
  return content;
}

StatusOr<RestConfig> ParseKubeconfigNode(const YAML::Node& root, const std::string& base_dir,
                                         const std::string& context_arg) {
  if (!root || !root.IsMap()) return InvalidArgument("kubeconfig is not a YAML mapping");
  std::string context_name = context_arg.empty() ? Scalar(root, "current-context") : context_arg;
  if (context_name.empty()) return InvalidArgument("kubeconfig has no current-context");
  std::optional<YAML::Node> found_context = FindNamed(root["contexts"], context_name, "context");
  if (!found_context) return NotFound("kubeconfig has no context \"" + context_name + "\"");
  const YAML::Node& context = *found_context;

  std::string cluster_name = Scalar(context, "cluster");
  std::optional<YAML::Node> found_cluster = FindNamed(root["clusters"], cluster_name, "cluster");
  if (!found_cluster) return NotFound("kubeconfig has no cluster \"" + cluster_name + "\"");
  const YAML::Node& cluster = *found_cluster;

  RestConfig config;
  config.server = Scalar(cluster, "server");
  if (config.server.empty())
    return InvalidArgument("cluster \"" + cluster_name + "\" has no server");
  while (!config.server.empty() && config.server.back() == '/') config.server.pop_back();
  if (cluster["insecure-skip-tls-verify"] && cluster["insecure-skip-tls-verify"].as<bool>()) {
    // Deliberately unsupported: the operator always verifies the API server.
    return InvalidArgument("insecure-skip-tls-verify is not supported");
  }
  RUO_ASSIGN_OR_RETURN(config.ca_pem, FileOrData(cluster, "certificate-authority", base_dir));

  std::string user_name = Scalar(context, "user");
  std::optional<YAML::Node> found_user = FindNamed(root["users"], user_name, "user");
  if (!user_name.empty() && !found_user) {
    return NotFound("kubeconfig has no user \"" + user_name + "\"");
  }
  if (found_user) {
    const YAML::Node& user = *found_user;
    RUO_ASSIGN_OR_RETURN(config.client_cert_pem, FileOrData(user, "client-certificate", base_dir));
    RUO_ASSIGN_OR_RETURN(config.client_key_pem, FileOrData(user, "client-key", base_dir));
    if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
      return InvalidArgument("user \"" + user_name +
                             "\" needs both client-certificate and client-key");
    }
    // As in client-go, a tokenFile wins over an inline token.
    std::string token_file = Scalar(user, "tokenFile");
    std::string token = Scalar(user, "token");
    if (!token_file.empty()) {
      auto source = std::make_shared<FileTokenSource>(ResolvePath(base_dir, token_file));
      RUO_RETURN_IF_ERROR(source->Token().status().Annotate("tokenFile"));
      config.token_source = std::move(source);
    } else if (!token.empty()) {
      config.token_source = std::make_shared<StaticTokenSource>(token);
    }
  }
  std::string ns = Scalar(context, "namespace");
  if (!ns.empty()) config.namespace_name = ns;
  return config;
}

}  // namespace

FileTokenSource::FileTokenSource(std::string path, std::chrono::seconds max_age, Clock& clock)
    : path_(std::move(path)), max_age_(max_age), clock_(clock) {}

StatusOr<std::string> FileTokenSource::Token() {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = clock_.Monotonic();
  if (have_token_ && now - read_at_ < max_age_) return token_;
  auto content = ReadFile(path_);
  if (!content.ok()) {
    // During rotation the file can be briefly missing: keep the last token.
    if (have_token_) return token_;
    return Unauthenticated("bearer token: " + content.status().message());
  }
  std::string token = Trim(*content);
  if (token.empty()) {
    if (have_token_) return token_;
    return Unauthenticated("bearer token file " + path_ + " is empty");
  }
  token_ = std::move(token);
  have_token_ = true;
  read_at_ = now;
  return token_;
}

void FileTokenSource::Invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  // Keep the token as a fallback but force a re-read on the next call.
  read_at_ = clock_.Monotonic() - max_age_;
}

StatusOr<RestConfig> ParseKubeconfig(std::string_view yaml, const std::string& base_dir,
                                     const std::string& context) {
  // yaml-cpp reports both syntax and type errors as exceptions.
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    return ParseKubeconfigNode(root, base_dir, context);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string("invalid kubeconfig: ") + e.what());
  }
}

StatusOr<RestConfig> LoadKubeconfig(const std::string& path, const std::string& context) {
  RUO_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::string base_dir = std::filesystem::absolute(path).parent_path().string();
  auto config = ParseKubeconfig(text, base_dir, context);
  if (!config.ok()) return config.status().Annotate(path);
  return config;
}

StatusOr<RestConfig> LoadInClusterFrom(const std::string& host, const std::string& port,
                                       const std::string& dir) {
  if (host.empty() || port.empty()) {
    return FailedPrecondition("not in a cluster: KUBERNETES_SERVICE_HOST/_PORT unset");
  }
  RestConfig config;
  // An IPv6 literal needs brackets in a URL.
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  config.server = "https://" + h + ":" + port;
  auto ca = ReadFile(dir + "/ca.crt");
  if (!ca.ok()) return ca.status().Annotate("service account CA");
  config.ca_pem = std::move(*ca);
  auto source = std::make_shared<FileTokenSource>(dir + "/token");
  RUO_RETURN_IF_ERROR(source->Token().status().Annotate("service account token"));
  config.token_source = std::move(source);
  auto ns = ReadFile(dir + "/namespace");
  if (ns.ok() && !Trim(*ns).empty()) config.namespace_name = Trim(*ns);
  return config;
}

StatusOr<RestConfig> LoadInCluster() {
  std::string dir = GetEnv("RUO_SERVICEACCOUNT_DIR");
  if (dir.empty()) dir = kDefaultServiceAccountDir;
  return LoadInClusterFrom(GetEnv("KUBERNETES_SERVICE_HOST"), GetEnv("KUBERNETES_SERVICE_PORT"),
                           dir);
}

StatusOr<RestConfig> LoadDefault(const std::string& kubeconfig_flag, const std::string& context) {
  if (!kubeconfig_flag.empty()) return LoadKubeconfig(kubeconfig_flag, context);
  std::string env = GetEnv("KUBECONFIG");
  if (!env.empty()) {
    std::stringstream ss(env);
    std::string entry;
    while (std::getline(ss, entry, ':')) {
      if (!entry.empty() && std::filesystem::exists(entry)) return LoadKubeconfig(entry, context);
    }
    return NotFound("no file of KUBECONFIG=" + env + " exists");
  }
  if (!GetEnv("KUBERNETES_SERVICE_HOST").empty()) return LoadInCluster();
  std::string home = GetEnv("HOME");
  if (!home.empty() && std::filesystem::exists(home + "/.kube/config")) {
    return LoadKubeconfig(home + "/.kube/config", context);
  }
  return FailedPrecondition(
      "no Kubernetes configuration: pass --kubeconfig, set KUBECONFIG, run in a pod, or create "
      "~/.kube/config");
}

StatusOr<std::string> Base64Decode(std::string_view in) {
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  bool padding = false;
  for (char ch : in) {
    int v;
    if (ch >= 'A' && ch <= 'Z') {
      v = ch - 'A';
    } else if (ch >= 'a' && ch <= 'z') {
      v = ch - 'a' + 26;
    } else if (ch >= '0' && ch <= '9') {
      v = ch - '0' + 52;
    } else if (ch == '+') {
      v = 62;
    } else if (ch == '/') {
      v = 63;
    } else if (ch == '=') {
      padding = true;
      continue;
    } else if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') {
      continue;
    } else {
      return InvalidArgument("invalid base64 character");
    }
    if (padding) return InvalidArgument("base64 data after padding");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (bits >= 6) return InvalidArgument("truncated base64 data");
  return out;
}

std::string Base64Encode(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                 static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < in.size()) {
    uint32_t n = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<uint8_t>(in[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace ruo::k8s
