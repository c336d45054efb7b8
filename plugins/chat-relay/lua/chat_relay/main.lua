-- chat_relay: the game side of the chat-relay plugin (plugins/chat-relay).
-- The instance manager patches it into every save beside clusterd's own
-- modules while the plugin is enabled with this folder as its Lua dir.
-- The node side calls chat_relay_show for each message from another
-- server: it is printed to everyone here (game.print is not chat, so it is
-- never relayed again) and counted; chat_relay_status answers the count.
local api = require("modules/clusterd/api")

local lib = {}

local function data()
  local d = api.data("chat_relay")
  d.shown = d.shown or 0
  return d
end

api.register("chat_relay_show", function(args)
  if type(args) ~= "table" or type(args.message) ~= "string" then
    return "bad arguments: want {from, player, message}"
  end
  local text = "[" .. tostring(args.from or "?") .. "] " ..
               tostring(args.player or "?") .. ": " .. args.message
  game.print(text)
  local d = data()
  d.shown = d.shown + 1
  return "ok"
end)

api.register("chat_relay_status", function()
  return tostring(data().shown)
end)

return lib
