#include "k8s/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace ruo::k8s {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "k8s_test_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string Write(const std::string& rel, const std::string& content) const {
    fs::path p = fs::path(path_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content;
    return p.string();
  }

 private:
  std::string path_;
};

// Sets an environment variable for the scope of a test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

constexpr char kDataKubeconfig[] = R"(
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: Q0EtUEVNCg==
- name: other
  cluster:
    server: https://127.0.0.2:7443
contexts:
- name: dev
  context: {cluster: local, user: admin, namespace: shop}
- name: ops
  context: {cluster: other, user: robot}
users:
- name: admin
  user:
    client-certificate-data: Q0VSVC1QRU0=
    client-key-data: S0VZLVBFTQ==
- name: robot
  user:
    token: abc.def
)";

TEST(KubeconfigTest, InlineDataAndCurrentContext) {
  auto config = ParseKubeconfig(kDataKubeconfig, "/nowhere");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://127.0.0.1:6443");
  EXPECT_EQ(config->ca_pem, "CA-PEM\n");
  EXPECT_EQ(config->client_cert_pem, "CERT-PEM");
  EXPECT_EQ(config->client_key_pem, "KEY-PEM");
  EXPECT_EQ(config->namespace_name, "shop");
  EXPECT_EQ(config->token_source, nullptr);
}

TEST(KubeconfigTest, NamedContextWithToken) {
  auto config = ParseKubeconfig(kDataKubeconfig, "/nowhere", "ops");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://127.0.0.2:7443");
  EXPECT_EQ(config->namespace_name, "default");
  EXPECT_TRUE(config->ca_pem.empty());
  ASSERT_NE(config->token_source, nullptr);
  EXPECT_EQ(*config->token_source->Token(), "abc.def");
}

TEST(KubeconfigTest, UnknownContextIsNotFound) {
  auto config = ParseKubeconfig(kDataKubeconfig, "/nowhere", "prod");
  EXPECT_EQ(config.status().code(), StatusCode::kNotFound);
  EXPECT_NE(config.status().message().find("prod"), std::string::npos);
}

TEST(KubeconfigTest, RelativeFilesResolveAgainstKubeconfigDir) {
  TempDir dir;
  dir.Write("pki/ca.crt", "CA FROM FILE");
  dir.Write("pki/admin.crt", "CERT FROM FILE");
  dir.Write("pki/admin.key", "KEY FROM FILE");
  dir.Write("tokens/t", "  file-token\n");
  std::string path = dir.Write("conf/kubeconfig", R"(
current-context: c
clusters:
- name: k
  cluster:
    server: https://127.0.0.1:1234
    certificate-authority: ../pki/ca.crt
contexts:
- name: c
  context: {cluster: k, user: u}
users:
- name: u
  user:
    client-certificate: ../pki/admin.crt
    client-key: )" + dir.path() + R"(/pki/admin.key
    token: ignored-because-tokenFile-wins
    tokenFile: ../tokens/t
)");
  auto config = LoadKubeconfig(path);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->ca_pem, "CA FROM FILE");
  EXPECT_EQ(config->client_cert_pem, "CERT FROM FILE");
  EXPECT_EQ(config->client_key_pem, "KEY FROM FILE");
  ASSERT_NE(config->token_source, nullptr);
  EXPECT_EQ(*config->token_source->Token(), "file-token");
}

TEST(KubeconfigTest, MissingReferencedFileNamesIt) {
  TempDir dir;
  std::string path = dir.Write("kubeconfig", R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://x:1", certificate-authority: missing.crt}}]
contexts: [{name: c, context: {cluster: k}}]
)");
  auto config = LoadKubeconfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("missing.crt"), std::string::npos);
}

TEST(KubeconfigTest, RejectsBadInput) {
  EXPECT_EQ(ParseKubeconfig("{{{", "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseKubeconfig("clusters: []", "").status().code(), StatusCode::kInvalidArgument);
  // Certificate without key.
  EXPECT_EQ(ParseKubeconfig(R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://x:1"}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: {client-certificate-data: QQ==}}]
)",
                            "")
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  // Skipping TLS verification is refused.
  EXPECT_EQ(ParseKubeconfig(R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://x:1", insecure-skip-tls-verify: true}}]
contexts: [{name: c, context: {cluster: k}}]
)",
                            "")
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  // Bad base64.
  EXPECT_FALSE(ParseKubeconfig(R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://x:1", certificate-authority-data: "!!"}}]
contexts: [{name: c, context: {cluster: k}}]
)",
                               "")
                   .ok());
}

TEST(KubeconfigTest, LoadDefaultOrder) {
  TempDir dir;
  std::string a = dir.Write("a", R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://a:1"}}]
contexts: [{name: c, context: {cluster: k}}]
)");
  std::string b = dir.Write("b", R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://b:1"}}]
contexts: [{name: c, context: {cluster: k}}]
)");
  ScopedEnv kubeconfig("KUBECONFIG", (dir.path() + "/nope:" + b).c_str());
  ScopedEnv host("KUBERNETES_SERVICE_HOST", nullptr);
  // The flag wins over $KUBECONFIG.
  auto from_flag = LoadDefault(a);
  ASSERT_TRUE(from_flag.ok()) << from_flag.status().ToString();
  EXPECT_EQ(from_flag->server, "https://a:1");
  // $KUBECONFIG: the first existing file of the list.
  auto from_env = LoadDefault("");
  ASSERT_TRUE(from_env.ok()) << from_env.status().ToString();
  EXPECT_EQ(from_env->server, "https://b:1");
}

TEST(KubeconfigTest, LoadDefaultFallsBackToInCluster) {
  TempDir dir;
  dir.Write("sa/token", "tok");
  dir.Write("sa/ca.crt", "CA");
  ScopedEnv kubeconfig("KUBECONFIG", nullptr);
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");
  ScopedEnv sa("RUO_SERVICEACCOUNT_DIR", (dir.path() + "/sa").c_str());
  auto config = LoadDefault("");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
}

TEST(InClusterTest, ReadsServiceAccountDir) {
  TempDir dir;
  dir.Write("token", "token-1\n");
  dir.Write("ca.crt", "CLUSTER CA");
  dir.Write("namespace", "redis-system\n");
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "127.0.0.1");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "6443");
  ScopedEnv sa("RUO_SERVICEACCOUNT_DIR", dir.path().c_str());
  auto config = LoadInCluster();
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://127.0.0.1:6443");
  EXPECT_EQ(config->ca_pem, "CLUSTER CA");
  EXPECT_EQ(config->namespace_name, "redis-system");
  ASSERT_NE(config->token_source, nullptr);
  EXPECT_EQ(*config->token_source->Token(), "token-1");
}

TEST(InClusterTest, Ipv6HostAndMissingPieces) {
  TempDir dir;
  dir.Write("token", "t");
  dir.Write("ca.crt", "CA");
  auto config = LoadInClusterFrom("fd00::1", "443", dir.path());
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://[fd00::1]:443");
  EXPECT_EQ(config->namespace_name, "default");
  EXPECT_EQ(LoadInClusterFrom("", "", dir.path()).status().code(), StatusCode::kFailedPrecondition);
  TempDir empty;
  EXPECT_FALSE(LoadInClusterFrom("h", "1", empty.path()).ok());
}

TEST(FileTokenSourceTest, RereadsAfterMaxAge) {
  TempDir dir;
  std::string path = dir.Write("token", "first");
  FakeClock clock;
  FileTokenSource source(path, std::chrono::seconds(60), clock);
  EXPECT_EQ(*source.Token(), "first");
  dir.Write("token", "second");
  clock.Advance(std::chrono::seconds(30));
  EXPECT_EQ(*source.Token(), "first") << "cached within max age";
  clock.Advance(std::chrono::seconds(31));
  EXPECT_EQ(*source.Token(), "second") << "re-read once older than max age";
}

TEST(FileTokenSourceTest, InvalidateForcesReread) {
  TempDir dir;
  std::string path = dir.Write("token", "first");
  FakeClock clock;
  FileTokenSource source(path, std::chrono::seconds(60), clock);
  EXPECT_EQ(*source.Token(), "first");
  dir.Write("token", "rotated");
  source.Invalidate();
  EXPECT_EQ(*source.Token(), "rotated");
}

TEST(FileTokenSourceTest, KeepsLastTokenWhileFileIsMissing) {
  TempDir dir;
  std::string path = dir.Write("token", "kept");
  FakeClock clock;
  FileTokenSource source(path, std::chrono::seconds(60), clock);
  EXPECT_EQ(*source.Token(), "kept");
  fs::remove(path);
  clock.Advance(std::chrono::seconds(120));
  EXPECT_EQ(*source.Token(), "kept");
  FileTokenSource never(dir.path() + "/absent", std::chrono::seconds(60), clock);
  EXPECT_EQ(never.Token().status().code(), StatusCode::kUnauthenticated);
}

TEST(Base64Test, RoundTrip) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "hello world\n"}) {
    auto decoded = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, s);
  }
  EXPECT_EQ(*Base64Decode("aGVs\nbG8="), "hello");
  EXPECT_FALSE(Base64Decode("a$b").ok());
}

}  // namespace
}  // namespace ruo::k8s
