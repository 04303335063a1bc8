worker "w1" { secret = 5 }
builder "b" { steps = { shell { } } }
schedule.cron { "bad", "0 25 * * *", builders = { "b" } }
local t = setmetatable({}, { __index = function(t, k) return k .. k end })
while true do end
