-- modules/clusterd/main.lua: clusterd's framework, an event_handler
-- library. The save's control.lua adds it before every feature module:
--   handler.add_lib(require("modules/clusterd/main"))
-- It announces players on channel "clusterd" and owns the remote
-- interface "clusterd" (ack, hello, resend, call_json and whatever the
-- feature modules register through api.register).
local api = require("modules/clusterd/api")

local lib = {}
-- Set by on_load: the first resend pass after a load prints everything
-- still unacknowledged (on_load itself may not touch the save).
local resend_all = false

local function player_name(index)
  local p = index and game.get_player(index)
  return p and p.name or nil
end

local function reason_name(value)
  for name, v in pairs(defines.disconnect_reason or {}) do
    if v == value then return name end
  end
  return value
end

local function announce(tbl)
  tbl.tick = game.tick
  api.send("clusterd", tbl)
end

-- ---- remote functions ----------------------------------------------------

-- ack(ids): ids is an array of message ids the node has handled.
api.register("ack", function(ids) return api.ack(ids) end)

-- hello(): what the node needs when it (re)connects: the next id this
-- save will use (ids at or above it that the node saw belong to a
-- timeline the game has lost, e.g. after a crash and an autosave load),
-- the API family and the outbox size.
api.register("hello", function()
  local st = api._state()
  return {next_id = st.next_id, version = api.version(), game_version = api.game_version(),
          outbox = st.count, sent = st.sent, resent = st.resent, refused = st.refused}
end)

-- resend(): prints every unacknowledged message again (bounded batch).
api.register("resend", function() return api.resend(0) end)

-- call_json(fn, args_json): how the node calls a function: args arrive as
-- JSON text, the result leaves as JSON text (the RCON reply).
api.register("call_json", function(fn, args_json)
  local f = api._functions()[fn]
  if not f or fn == "call_json" then error("clusterd: no remote function " .. tostring(fn)) end
  local args = nil
  if args_json ~= nil and args_json ~= "" and args_json ~= "null" then
    args = api.json_to_table(args_json)
    if args == nil then error("clusterd: arguments are not JSON") end
  end
  return api.json_value(f(args))
end)

-- ---- event_handler hooks -------------------------------------------------

lib.add_remote_interface = function() api._add_interface() end

lib.on_init = function()
  api._state()
end

lib.on_load = function()
  resend_all = true
end

lib.on_nth_tick = {
  [api.RESEND_EVERY] = function()
    if resend_all then
      resend_all = false
      api.resend(0)
    else
      api.resend(api.RESEND_AFTER)
    end
  end,
}

lib.events = {
  [defines.events.on_player_joined_game] = function(e)
    local p = game.get_player(e.player_index)
    api._state().joined[p.name] = game.tick
    announce({type = "join", player = p.name, online_time = p.online_time})
  end,
  [defines.events.on_player_left_game] = function(e)
    local p = game.get_player(e.player_index)
    local joined = api._state().joined
    local since = joined[p.name]
    joined[p.name] = nil
    announce({type = "leave", player = p.name, reason = reason_name(e.reason),
              session_ticks = since and (game.tick - since) or 0, online_time = p.online_time})
  end,
  [defines.events.on_console_chat] = function(e)
    announce({type = "chat", player = player_name(e.player_index) or "<server>",
              message = e.message})
  end,
  [defines.events.on_player_banned] = function(e)
    announce({type = "ban", player = e.player_name, by = player_name(e.by_player),
              reason = e.reason})
  end,
  [defines.events.on_player_unbanned] = function(e)
    announce({type = "unban", player = e.player_name, by = player_name(e.by_player),
              reason = e.reason})
  end,
  [defines.events.on_player_promoted] = function(e)
    announce({type = "promote", player = player_name(e.player_index)})
  end,
  [defines.events.on_player_demoted] = function(e)
    announce({type = "demote", player = player_name(e.player_index)})
  end,
}

return lib
