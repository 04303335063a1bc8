project { name = "Acme", url = "https://ci.example.org" }
store "sqlite:state/grove.db"
broker "embedded"
web { listen = "127.0.0.1:8010" }
artifacts { max_size = 500 * 1024 * 1024 }

worker "linux-1" { secret = "s1", tags = { "linux" }, capacity = 2 }
worker "win-1" { secret = "s2", tags = { "win32", "gpu" } }

local app = git { url = "https://git.example/app.git", branches = { "main" } }
local db = lock.master { "db", max = 1 }
local disk = lock.worker { "disk", max = 2 }

builder "ci" {
  tags = { "linux" },
  locks = { db, disk },
  collapse = true,
  priority = 5,
  properties = { flavour = "release" },
  steps = {
    checkout { app, shallow = true },
    shell { "make -j2 ${prop:flavour}", name = "build", timeout = "20m", env = { CC = "gcc" } },
    test { "ctest --output-junit ctest.xml", junit = { "build/ctest.xml" }, workdir = "build" },
    set_property { "git describe --tags", property = "version" },
    upload { "dist/*.zip", to = "releases/${prop:buildnumber}/" },
    shell { "echo cleanup", always_run = true, flunk_on_failure = false,
            decode_rc = { [0] = "success", [1] = "warnings" } },
  },
}

for _, os in ipairs({ "linux", "win32" }) do
  builder("release-" .. os) { tags = { os }, steps = { shell { "echo " .. os } } }
end

builder "deploy" { steps = { shell { argv = { "deploy.sh", "--env", "${prop:env:-staging}" } } } }

schedule.force { "force", builders = { "ci", "deploy" }, params = {
  { name = "env", default = "staging", choices = { "staging", "production" } },
  { name = "ticket", required = true },
} }
schedule.on_change { "on-push", source = app, branches = { "main", "release/*" }, builders = { "ci" } }
schedule.cron { "nightly", "0 3 * * *", tz = "Europe/Rome", builders = { "release-linux" } }
schedule.periodic { "hourly", every = "1h", builders = { "ci" }, only_if_changed = app }
schedule.triggerable { "deploy-all", builders = { "deploy" } }
