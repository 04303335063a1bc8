// notify.status: commit statuses on GitHub, GitLab or Gitea for builds of a change — pending
// (GitLab: running) when the build starts, then success / failure / error with a link to it.
// Request shapes follow each forge's REST API:
//   GitHub  POST {url}/repos/{owner}/{repo}/statuses/{sha}            Authorization: Bearer T
//           {"state", "target_url", "description", "context"}
//   GitLab  POST {url}/api/v4/projects/{owner%2Frepo}/statuses/{sha}  PRIVATE-TOKEN: T
//           {"state", "target_url", "description", "name", "ref"}
//   Gitea   POST {url}/api/v1/repos/{owner}/{repo}/statuses/{sha}     Authorization: token T
//           {"state", "target_url", "description", "context"}
#pragma once

#include <memory>

#include "notify/factory.h"

namespace grove::notify {

std::unique_ptr<Notifier> MakeStatusNotifier(const StatusNotifierConfig& config,
                                             const NotifierEnv& env);

// "owner/name" from a repository URL (https://host/owner/name.git, git@host:owner/name.git,
// ssh://git@host/group/sub/name); "" when it has no such path.
std::string RepoPathOf(const std::string& url);

// The provider's word for |result| ("running" for a build that starts).
std::string ProviderState(const std::string& provider, const std::string& result);

}  // namespace grove::notify
