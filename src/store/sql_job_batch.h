// The queries behind Store's batch methods for many small jobs (a batch of submissions claimed
// at once, the ends of the jobs one batch of events finishes): several rows per statement, so
// that a consumer job costs a fraction of a statement rather than one per row. sql_store.cc
// delegates to them.
#pragma once

#include <vector>

#include "store/sql_db.h"
#include "store/store.h"

namespace grove::sql_job_batch {

Status ClaimFreshRequests(sql::Db& db, const std::vector<int64_t>& ids, const std::string& worker,
                          int64_t now, const std::string& master, std::vector<int64_t>* claimed);
// StartBuild's insert for each of |builds| (ids 0), with |numbers| (one each): the inserted get
// their id and number; one whose request is missing or whose attempt has a build keeps id 0.
Status InsertBuilds(sql::Db& db, std::vector<BuildRecord>* builds,
                    const std::vector<int64_t>& numbers);
// The three writes of a batch's ends: on PostgreSQL, inside a transaction, sent without waiting
// for their answers (Stmt::RunDeferred), which come with the next statement's or the commit's.
Status RecordSteps(sql::Db& db, const std::vector<StepRecord>& steps);
Status FinishBuildsWith(sql::Db& db, const std::vector<Store::BuildEnd>& ends);
Status FinishRequests(sql::Db& db, const std::vector<int64_t>& ids, Result result, int64_t now);
// FinishStep for each of |ends|, as RecordSteps sends its rows (PostgreSQL: unanswered until
// the next statement or the commit; SQLite: a missing step is reported).
Status FinishSteps(sql::Db& db, const std::vector<Store::StepEnd>& ends);
// Store::FinishJobs on PostgreSQL for a batch of fewer than kFewJobEnds builds: one statement
// per job (its step, its build, its request: data-modifying CTEs), each sent as RecordSteps
// sends its rows; steps of builds that do not end here go as RecordSteps and FinishSteps.
constexpr size_t kFewJobEnds = 8;
Status FinishFewJobs(sql::Db& db, const std::vector<StepRecord>& steps,
                     const std::vector<Store::StepEnd>& step_ends,
                     const std::vector<Store::BuildEnd>& builds);

}  // namespace grove::sql_job_batch
