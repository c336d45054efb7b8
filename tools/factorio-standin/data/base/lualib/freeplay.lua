-- freeplay.lua (stand-in): gives a new player the freeplay starting
-- items, with the "freeplay" remote interface to change them, as the
-- game's freeplay scenario library does.

local freeplay = {}

-- Factorio 2.0 persists `storage`, 1.1 `global`; this library runs on both.
local function data() return storage or global end

local default_items = {
  ["iron-plate"] = 8,
  ["wood"] = 1,
  ["pistol"] = 1,
  ["firearm-magazine"] = 10,
  ["burner-mining-drill"] = 1,
  ["stone-furnace"] = 1,
}

freeplay.on_init = function()
  data().freeplay = data().freeplay or { created_items = default_items }
end

freeplay.events = {
  [defines.events.on_player_created] = function(event)
    local player = game.get_player(event.player_index)
    local items = data().freeplay and data().freeplay.created_items or {}
    local names = {}
    for name in pairs(items) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      player.insert({ name = name, count = items[name] })
    end
  end,
}

freeplay.add_remote_interface = function()
  if remote.interfaces["freeplay"] then return end
  remote.add_interface("freeplay", {
    get_created_items = function() return data().freeplay.created_items end,
    set_created_items = function(items) data().freeplay.created_items = items end,
  })
end

return freeplay
