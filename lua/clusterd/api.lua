-- modules/clusterd/api.lua: what clusterd's framework offers feature
-- modules (see README.md next to this file). Every module reaches it with
--   local api = require("modules/clusterd/api")
-- (always this exact string, so every requirer shares one table).
--
-- Messages to the node: api.send(channel, tbl) gives tbl an "id" (one
-- counter per save, kept in the persisted table), keeps its JSON in an
-- outbox and prints it as "\f$ipc:<channel>?j<json>"; a payload of
-- FILE_MIN bytes or more goes to script-output/ and the line names the
-- file ("?f<file>"). The node acknowledges ids through the remote function
-- "ack"; what stays unacknowledged is printed again on a cadence, after a
-- load and when the node asks ("resend"). The game may crash and reload
-- an autosave: ids after that save's counter are then used again, which
-- is why the node asks "hello" for the counter whenever it connects.
local api = {}

-- Limits. The node keeps stdout lines under 4 kB and payloads of 4000
-- bytes or more come through files (the wire contract). The outbox is
-- bounded so a node that stays away cannot make the save grow without
-- end; send() then refuses and the caller keeps its own state.
api.FILE_MIN = 4000
api.OUTBOX_MAX = 20000
api.OUTBOX_BYTES_MAX = 16 * 1024 * 1024
-- Unacknowledged messages older than this are printed again (5 s of game
-- time), at most RESEND_BATCH per pass, a pass each RESEND_EVERY ticks.
api.RESEND_AFTER = 300
api.RESEND_EVERY = 60
api.RESEND_BATCH = 500
local CHANNEL_MAX = 64

-- ---- versions -----------------------------------------------------------
-- Factorio 2.0 has the `helpers` and `storage` globals; 1.1 has `global`
-- and keeps the helpers in `game`. Globals are read when used, never
-- cached: the game replaces the persisted table when a save loads.

function api.is_v2()
  return rawget(_G, "helpers") ~= nil
end

-- "2.0" or "1.1" (the API family, not the exact version).
function api.version()
  return api.is_v2() and "2.0" or "1.1"
end

-- The exact game version, e.g. "2.0.28", from the active mods list.
function api.game_version()
  return script.active_mods and script.active_mods.base or api.version()
end

local function helpers_()
  local h = rawget(_G, "helpers")
  if h then return h end
  local g = rawget(_G, "game")
  if not g then error("clusterd: game helpers are not available before on_init (Factorio 1.1)") end
  return g
end

-- The persisted table (`storage` on 2.0, `global` on 1.1).
function api.storage()
  local s = rawget(_G, "storage") or rawget(_G, "global")
  if not s then error("clusterd: no persisted table (storage/global)") end
  return s
end

-- A feature module's own persisted table, created on first use. Do not
-- call it for the first time from on_load (the game forbids writes there).
function api.data(name)
  local s = api.storage()
  s.clusterd_modules = s.clusterd_modules or {}
  local d = s.clusterd_modules[name]
  if not d then
    d = {}
    s.clusterd_modules[name] = d
  end
  return d
end

function api.table_to_json(t) return helpers_().table_to_json(t) end
function api.json_to_table(s) return helpers_().json_to_table(s) end
function api.write_file(name, data, append)
  return helpers_().write_file(name, data, append or false, 0)
end
function api.remove_path(name) return helpers_().remove_path(name) end

-- An item prototype by name, or nil.
function api.item_prototype(name)
  local p = rawget(_G, "prototypes")
  if p then return p.item[name] end
  return game.item_prototypes[name]
end

-- The contents of a LuaInventory as an array of {name, count, quality},
-- sorted by name then quality, on both versions (1.1 has no quality:
-- "normal").
function api.contents(inv)
  local raw = inv.get_contents()
  local out = {}
  if api.is_v2() then
    for _, it in pairs(raw) do
      out[#out + 1] = {name = it.name, count = it.count, quality = it.quality or "normal"}
    end
  else
    for name, count in pairs(raw) do
      out[#out + 1] = {name = name, count = count, quality = "normal"}
    end
  end
  table.sort(out, function(a, b)
    if a.name ~= b.name then return a.name < b.name end
    return a.quality < b.quality
  end)
  return out
end

-- An item stack to pass to insert/remove: with quality on 2.0, without
-- on 1.1 (which refuses the field only for non-normal quality: those
-- items do not exist there, so an error is right).
function api.stack(name, count, quality)
  if api.is_v2() then
    return {name = name, count = count, quality = quality or "normal"}
  end
  if quality and quality ~= "normal" then
    error("clusterd: quality " .. quality .. " does not exist in Factorio 1.1")
  end
  return {name = name, count = count}
end

-- ---- JSON of plain values (table_to_json takes only tables) -------------

local function json_value(v)
  local t = type(v)
  if v == nil then return "null" end
  if t == "table" then return api.table_to_json(v) end
  if t == "boolean" then return v and "true" or "false" end
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    if v == math.floor(v) and math.abs(v) < 2^53 then return string.format("%d", v) end
    return string.format("%.17g", v)
  end
  if t == "string" then
    return (api.table_to_json({v}):gsub("^%[", ""):gsub("%]$", ""))
  end
  error("clusterd: cannot encode a " .. t .. " as JSON")
end
api.json_value = json_value

-- ---- the outbox ---------------------------------------------------------

-- The framework's persisted state, created on first use (never in
-- on_load: nothing calls this there).
local function state()
  local s = api.storage()
  local st = s.clusterd
  if not st then
    st = {next_id = 1, low = 1, outbox = {}, count = 0, bytes = 0, joined = {},
          sent = 0, resent = 0, refused = 0}
    s.clusterd = st
  end
  return st
end
api._state = state

local function emit(id, channel, json)
  if #json >= api.FILE_MIN then
    local file = "clusterd-ipc-" .. id .. ".json"
    api.write_file(file, json, false)
    print("\f$ipc:" .. channel .. "?f" .. file)
  else
    print("\f$ipc:" .. channel .. "?j" .. json)
  end
end

local function valid_channel(c)
  return type(c) == "string" and #c > 0 and #c <= CHANNEL_MAX and
    c:find("^[%w_.%-]+$") ~= nil
end

-- Sends tbl (a table; its field "id" is set here) on channel. Returns the
-- id, or nil and a reason when the outbox is full (the message is not
-- sent; the caller keeps what it wanted to say and tries later).
function api.send(channel, tbl)
  if not valid_channel(channel) then
    error("clusterd: bad channel name " .. tostring(channel))
  end
  if type(tbl) ~= "table" then error("clusterd: api.send wants a table") end
  local st = state()
  if st.count >= api.OUTBOX_MAX or st.bytes >= api.OUTBOX_BYTES_MAX then
    st.refused = st.refused + 1
    return nil, "outbox full"
  end
  local id = st.next_id
  tbl.id = id
  local json = api.table_to_json(tbl)
  st.next_id = id + 1
  st.outbox[id] = {c = channel, j = json, t = game.tick}
  st.count = st.count + 1
  st.bytes = st.bytes + #json
  st.sent = st.sent + 1
  emit(id, channel, json)
  return id
end

-- Removes acknowledged ids from the outbox; returns how many were there.
function api.ack(ids)
  local st = state()
  local n = 0
  for _, id in pairs(ids or {}) do
    local e = type(id) == "number" and st.outbox[id]
    if e then
      st.outbox[id] = nil
      st.count = st.count - 1
      st.bytes = st.bytes - #e.j
      n = n + 1
    end
  end
  while st.low < st.next_id and st.outbox[st.low] == nil do
    st.low = st.low + 1
  end
  return n
end

-- Prints unacknowledged messages again, oldest first: those sent at
-- least min_age ticks ago (0: all), at most RESEND_BATCH. Returns the
-- number printed.
function api.resend(min_age)
  local st = state()
  local now = game.tick
  local n = 0
  local scanned = 0
  local id = st.low
  while id < st.next_id and n < api.RESEND_BATCH and scanned < 20 * api.RESEND_BATCH do
    local e = st.outbox[id]
    if e and now - e.t >= (min_age or 0) then
      e.t = now
      emit(id, e.c, e.j)
      n = n + 1
    end
    id = id + 1
    scanned = scanned + 1
  end
  st.resent = st.resent + n
  return n
end

-- ---- the remote interface "clusterd" -------------------------------------

local functions = {}
local interface_added = false

-- Registers fn as remote function `name` of the interface "clusterd".
-- Call it while your module file loads (top level): the interface is
-- added once, when the game runs on_init or on_load.
function api.register(name, fn)
  if type(name) ~= "string" or type(fn) ~= "function" then
    error("clusterd: api.register(name, function)")
  end
  if functions[name] then error("clusterd: remote function " .. name .. " registered twice") end
  if interface_added then
    error("clusterd: api.register(" .. name .. ") after the interface was added; register at load time")
  end
  functions[name] = fn
end

-- Called by the framework's add_remote_interface.
function api._add_interface()
  if interface_added then return end
  interface_added = true
  remote.add_interface("clusterd", functions)
end

function api._functions() return functions end

return api
