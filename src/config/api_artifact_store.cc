// The master's artifact store:
//
//   artifacts { max_size = 104857600 }   -- bytes per uploaded file (default 100 MiB)
#include "config/api.h"
#include "config/lua_fn.h"
#include "config/table_reader.h"

namespace grove::config_internal {

namespace {

int Artifacts(lua_State* L, LoadContext& ctx) {
  ExpectOneArg(L, LUA_TTABLE, "artifacts { max_size = 104857600 }");
  DeclareOnce(L, ctx, "artifacts");
  TableReader t(L, 1, "artifacts");
  std::optional<int64_t> max = t.Integer("max_size");
  t.Finish();
  if (max) {
    if (*max < 1 || *max > (int64_t{16} << 30))
      throw ConfigError("option 'max_size' in artifacts must be between 1 byte and 16 GiB");
    ctx.config->artifact_max_bytes = *max;
  }
  return 0;
}

}  // namespace

void RegisterArtifactStoreApi(lua_State* L) {
  SetGlobalFunction<Artifacts>(L, "artifacts");
}

}  // namespace grove::config_internal
