// The queries behind Store's pipeline methods (test results, artifacts, build properties,
// superseded requests), as free functions over a sql::Db; sql_store.cc delegates to them.
#pragma once

#include <vector>

#include "store/sql_db.h"
#include "store/store.h"

namespace grove::sql_pipeline {

Status SetBuildProperties(sql::Db& db, int64_t build_id, const Json& properties);
Status AdoptBuild(sql::Db& db, int64_t build_id, const std::string& worker, const Json& properties);
Status RecordStep(sql::Db& db, const StepRecord& s);
Status FinishBuildWith(sql::Db& db, int64_t build_id, const std::string& worker,
                       const Json& properties, Result result, int64_t now);
Status FinishStepWithResult(sql::Db& db, int64_t build_id, int idx, Result result, int64_t now,
                            const Json& result_json);
Status SetStepTests(sql::Db& db, int64_t build_id, int idx, const Json& tests);
Status SetStepResult(sql::Db& db, int64_t build_id, int idx, const Json& result);
Status ListBuildTests(sql::Db& db, int64_t build_id, std::vector<StepTestsRecord>* out);
Status PutArtifact(sql::Db& db, const ArtifactRecord& a);
Status ListArtifacts(sql::Db& db, int64_t build_id, std::vector<ArtifactRecord>* out);
Status GetArtifact(sql::Db& db, int64_t build_id, const std::string& path, ArtifactRecord* out);
Status SupersedeRequest(sql::Db& db, int64_t id, int64_t by, int64_t now);
Status SupersededBy(sql::Db& db, int64_t id, int64_t* by);

}  // namespace grove::sql_pipeline
