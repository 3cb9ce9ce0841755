// Writes status changes of one RedisUpgrade with optimistic locking: applies a
// transaction to the status as last read, skips the write when nothing
// changed, PUTs the status subresource with metadata.resourceVersion, and on a
// 409 re-reads the object and re-applies the transaction once.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>

#include "common/status.h"
#include "k8s/client.h"
#include "upgrade/status_doc.h"
#include "upgrade/status_tx.h"
#include "upgrade/types.h"

namespace ruo::upgrade {

class StatusWriter {
 public:
  // `object` is the RedisUpgrade as read from the API server.
  static StatusOr<std::unique_ptr<StatusWriter>> FromObject(k8s::Client& client,
                                                            nlohmann::json object);

  const RedisUpgrade& upgrade() const { return upgrade_; }
  const StatusDoc& doc() const { return doc_; }
  // The object as last read or written (apiVersion, kind, metadata: for Events).
  const nlohmann::json& object() const { return object_; }

  // Applies `tx` and makes the result durable. On error the in-memory status is
  // the last one known to be stored.
  Status Commit(const StatusTx& tx);
  // Re-reads the object from the API server.
  Status Reload();
  // Takes over an object returned by another write (e.g. a metadata patch).
  Status Adopt(nlohmann::json object);

  int writes() const { return writes_; }

 private:
  explicit StatusWriter(k8s::Client& client) : client_(client) {}
  Status Write(const StatusDoc& next);

  k8s::Client& client_;
  nlohmann::json object_;
  RedisUpgrade upgrade_;
  StatusDoc doc_;
  int writes_ = 0;
};

}  // namespace ruo::upgrade
