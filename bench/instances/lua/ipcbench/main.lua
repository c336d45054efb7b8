-- A feature module for bench/instances/ipc_bench.py: sends bursts of
-- messages on channel "clusterd" (type "bench", which the node
-- acknowledges without further work) and reports the outbox.
local api = require("modules/clusterd/api")

api.register("bench_send", function(a)
  local pad = string.rep("x", a.size or 0)
  local last = 0
  for _ = 1, a.n do
    last = api.send("clusterd", {type = "bench", pad = pad}) or last
  end
  return last
end)

api.register("bench_outbox", function()
  return api._state().count
end)

return {}
