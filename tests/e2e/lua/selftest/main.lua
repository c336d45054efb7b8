-- A feature module written against modules/clusterd/api, as ledger and
-- inventory modules are: it registers remote functions that check the
-- api from inside the game (on whichever version the install runs) and
-- answer "ok" or raise an error naming what differs.
local api = require("modules/clusterd/api")
local lib = {}

local function eq(a, b, what)
  if a ~= b then error(what .. ": got " .. tostring(a) .. ", want " .. tostring(b), 2) end
end

api.register("selftest_versions", function(want)
  eq(api.version(), want.family, "api.version()")
  eq(api.is_v2(), want.family == "2.0", "api.is_v2()")
  eq(api.game_version(), want.game, "api.game_version()")
  if want.family == "2.0" then
    eq(api.storage(), storage, "api.storage() on 2.0")
  else
    eq(api.storage(), global, "api.storage() on 1.1")
  end
  return "ok"
end)

api.register("selftest_contents", function(args)
  local p = game.get_player(args.player)
  local inv = p.get_main_inventory()
  inv.clear()
  inv.insert(api.stack("iron-plate", 50))
  inv.insert(api.stack("copper-plate", 7, "normal"))
  local c = api.contents(inv)
  eq(#c, 2, "#contents")
  eq(c[1].name, "copper-plate", "contents[1].name")
  eq(c[1].count, 7, "contents[1].count")
  eq(c[1].quality, "normal", "contents[1].quality")
  eq(c[2].name, "iron-plate", "contents[2].name")
  eq(c[2].count, 50, "contents[2].count")
  local ok = pcall(api.stack, "iron-plate", 1, "legendary")
  eq(ok, api.is_v2(), "legendary stack allowed")
  eq(api.item_prototype("iron-plate").stack_size, 100, "stack_size")
  return "ok"
end)

api.register("selftest_json", function(args)
  eq(api.json_value(nil), "null", "nil")
  eq(api.json_value(true), "true", "true")
  eq(api.json_value(42), "42", "42")
  eq(api.json_value(-7), "-7", "-7")
  eq(api.json_value(0.5), "0.5", "0.5")
  eq(api.json_value('a"b\\c\n'), '"a\\"b\\\\c\\n"', "string escapes")
  local t = api.json_to_table(api.table_to_json({x = 1, y = {"a", "b"}}))
  eq(t.x, 1, "round trip x")
  eq(t.y[2], "b", "round trip y[2]")
  eq(args.echo, "hé \"quoted\"", "args reach the function")
  local d = api.data("selftest")
  d.calls = (d.calls or 0) + 1
  return {calls = d.calls, echo = args.echo}
end)

-- send(n, size): sends n messages on channel "selftest" with a payload
-- of about size bytes each; returns their ids.
api.register("selftest_send", function(args)
  local ids = {}
  for i = 1, args.n do
    local id, why = api.send("selftest", {i = i, pad = string.rep("x", args.size or 0)})
    if not id then return {error = why, ids = ids} end
    ids[#ids + 1] = id
  end
  return ids
end)

api.register("selftest_register_late", function()
  local ok, err = pcall(api.register, "late", function() end)
  eq(ok, false, "late register refused")
  return tostring(err):find("after the interface was added", 1, true) and "ok" or err
end)

api.register("selftest_outbox", function()
  local st = api._state()
  return {count = st.count, low = st.low, next_id = st.next_id}
end)

return lib
