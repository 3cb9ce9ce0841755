#include "common/status.h"

#include <gtest/gtest.h>

#include <memory>

namespace ruo {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_EQ(ClassifyForRetry(s), RetryClass::kNone);
}

TEST(StatusTest, CarriesCodeMessageAndReason) {
  Status s = FailedPrecondition("target 6.2.0 is older than source 7.0.15", "DowngradeRefused");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.reason(), "DowngradeRefused");
  EXPECT_EQ(s.ToString(),
            "FAILED_PRECONDITION (DowngradeRefused): target 6.2.0 is older than source 7.0.15");
}

TEST(StatusTest, AnnotateKeepsCodeAndReason) {
  Status s = Unavailable("connection refused", "SourceUnreachable").Annotate("source 1.2.3.4:6379");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.reason(), "SourceUnreachable");
  EXPECT_EQ(s.message(), "source 1.2.3.4:6379: connection refused");
  EXPECT_TRUE(Status().Annotate("x").ok());
}

TEST(StatusTest, RetryTaxonomy) {
  EXPECT_EQ(ClassifyForRetry(Unavailable("x")), RetryClass::kBackoff);
  EXPECT_EQ(ClassifyForRetry(DeadlineExceeded("x")), RetryClass::kBackoff);
  EXPECT_EQ(ClassifyForRetry(Aborted("conflict")), RetryClass::kReread);
  EXPECT_EQ(ClassifyForRetry(FailedPrecondition("x")), RetryClass::kTerminal);
  EXPECT_EQ(ClassifyForRetry(InvalidArgument("x")), RetryClass::kTerminal);
  EXPECT_EQ(ClassifyForRetry(Unauthenticated("x")), RetryClass::kTerminal);
}

StatusOr<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgument("odd");
  return x / 2;
}

StatusOr<int> Quarter(int x) {
  RUO_ASSIGN_OR_RETURN(int h, Half(x));
  RUO_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  RUO_RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST(StatusOrTest, ValueAndErrorPropagation) {
  auto ok = Quarter(8);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 2);
  auto bad = Quarter(6);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(3).code(), StatusCode::kInvalidArgument);
}

TEST(StatusOrTest, OkStatusIsNotAValue) {
  StatusOr<int> s = Status::Ok();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInternal);
}

TEST(StatusOrTest, MoveOnlyValue) {
  StatusOr<std::unique_ptr<int>> p = std::make_unique<int>(7);
  ASSERT_TRUE(p.ok());
  std::unique_ptr<int> v = std::move(p).value();
  EXPECT_EQ(*v, 7);
}

}  // namespace
}  // namespace ruo
