broker "embedded"
worker "w" { secret = "x", tags = { "linux" } }
consumer { "recalc_scores", tags = { "linux" }, timeout = "1h" }
schedule.cron { "recalc", "*/10 * * * *", consume = "recalc_scores", payload = { batch = 500 } }
builder "nightly-scores" { steps = { consume { "recalc_scores", payload = { batch = 500 } } } }
builder "parent" {
  steps = {
    trigger { "deploy", wait = true, properties = { version = "1.2" } },
    publish { "dist/*.tar.gz", url = "https://files.example/releases/", method = "PUT", retries = 2 },
  },
}
builder "deploy" { steps = { shell { "true" } } }
schedule.triggerable { "deploy", builders = { "deploy" } }
