-- Grove quickstart: a master with one local worker and two builders.
--
--   grove master .                                       -- in this directory
--   grove worker --name local --secret-file secrets/local --workdir worker
--   open http://127.0.0.1:8010 and force "hello" (or: grove force hello)
--
-- The full reference is docs/config.md. This file is Lua: loops and functions work too.

project { name = "Quickstart", url = "http://127.0.0.1:8010" }
store  "sqlite:state/grove.db"   -- relative to this directory
broker "embedded"                -- workers connect to the master's own HTTP port

-- The secret is read from secrets/local (or $GROVE_SECRET_LOCAL), never written here.
worker "local" { secret = secret "local", tags = { "local" }, capacity = 2 }

builder "hello" {
  tags = { "local" },
  properties = { greeting = "hello" },
  steps = {
    shell { "uname -a", name = "uname" },
    shell {
      "for i in 1 2 3 4 5; do echo \"working... step $i of 5\"; sleep 1; done",
      name = "count",
      timeout = "1m",
    },
    shell { "echo done", name = "done" },
  },
}

-- A build that fails, to see how failures look: the first step exits 3, and because
-- halt_on_failure is true (the default) the second step never runs.
builder "fail-demo" {
  tags = { "local" },
  steps = {
    shell { "echo 'about to fail'; exit 3", name = "fail" },
    shell { "echo 'not reached'", name = "after" },
  },
}

schedule.force { "force", builders = { "hello", "fail-demo" } }
web { listen = "127.0.0.1:8010" }
