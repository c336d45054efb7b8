-- modules/inventory/main.lua: inventory sync (issue 14), the game's half.
-- A player's inventory follows them from server to server. On join the
-- module asks the node for the player's lock (channel "inventory", op
-- "acquire"); the node answers by calling inventory_grant:
--   no stored inventory            -> the current one becomes the synced one;
--   stored, and it is the one this game last synced (same generation)
--                                  -> keep the current one;
--   stored and different           -> clear the player, make them a
--                                     spectator with a progress bar, and
--                                     take the stored one in through
--                                     inventory_chunk calls;
--   the lock is held elsewhere     -> wait as a spectator, ask again.
-- On leave the inventory goes up in chunks (op "upload", the last one
-- releasing the lock); a player who leaves before their inventory was
-- synced only gives the lock back (op "release"), so a half-downloaded
-- inventory is never stored. If the node does not answer, the player may
-- run /inventory-temporary to play with a temporary inventory, which is
-- merged into the synced one at the next successful sync here.
local api = require("modules/clusterd/api")

local lib = {}

-- Upload chunk size in bytes: every chunk goes through a script-output
-- file (the framework writes payloads of 4000 bytes or more to files).
local CHUNK = 60000
-- Ask again for a lock held elsewhere every 2 s.
local RETRY_TICKS = 120
-- Offer a temporary inventory when the node has not answered in 30 s.
local OFFER_TICKS = 1800
local GUI = "clusterd_inventory"

local function st()
  local d = api.data("inventory")
  d.players = d.players or {}
  return d
end

-- Per player: known = the generation of the stored inventory this game's
-- inventory descends from (0: none); gen = the lock generation held here
-- (0: none); state = offline|waiting|waiting_lock|downloading|synced|
-- temporary|error.
local function pstate(name)
  local d = st()
  local s = d.players[name]
  if not s then
    s = {known = 0, gen = 0, state = "offline"}
    d.players[name] = s
  end
  return s
end

-- ---- what is stored -------------------------------------------------------

local INVENTORIES = {"main", "guns", "ammo", "armor", "trash"}

local function inventory_of(p, kind)
  local d = defines.inventory
  local which = ({main = d.character_main, guns = d.character_guns, ammo = d.character_ammo,
                  armor = d.character_armor, trash = d.character_trash})[kind]
  return which and p.get_inventory(which) or nil
end

local function has_data(s)
  return s.is_blueprint or s.is_blueprint_book or s.is_deconstruction_item or s.is_upgrade_item
end

local function stack_entry(slot, s)
  local q = s.quality
  if type(q) ~= "string" then q = q and q.name or nil end
  local e = {slot = slot, name = s.name, count = s.count}
  if q and q ~= "normal" then e.quality = q end
  if has_data(s) then e.export = s.export_stack() end
  return e
end

local function inventory_table(inv)
  local out = {}
  if not inv then return out end
  for i = 1, #inv do
    local s = inv[i]
    if s.valid_for_read then out[#out + 1] = stack_entry(i, s) end
  end
  return out
end

local function serialize(p)
  local t = {version = 1, inventories = {}, quickbar = {}, crafting = {}, logistics = {}}
  for _, kind in ipairs(INVENTORIES) do
    t.inventories[kind] = inventory_table(inventory_of(p, kind))
  end
  if p.cursor_stack and p.cursor_stack.valid_for_read then
    t.cursor = stack_entry(1, p.cursor_stack)
  end
  for i = 1, 100 do
    local ok, proto = pcall(p.get_quick_bar_slot, i)
    if ok and proto then t.quickbar[#t.quickbar + 1] = {slot = i, name = proto.name} end
  end
  for _, c in ipairs(p.crafting_queue or {}) do
    local r = c.recipe
    if type(r) ~= "string" then r = r.name end
    t.crafting[#t.crafting + 1] = {recipe = r, count = c.count}
  end
  for i = 1, 100 do
    local ok, slot = pcall(p.get_personal_logistic_slot, i)
    if not ok then break end
    if slot and slot.name then
      t.logistics[#t.logistics + 1] = {slot = i, name = slot.name, min = slot.min, max = slot.max}
    end
  end
  local c = p.color
  t.settings = {tag = p.tag, color = {r = c.r, g = c.g, b = c.b, a = c.a}}
  return t
end

local function put_stack(stack, e)
  local spec = {name = e.name, count = e.count}
  if e.quality then spec.quality = e.quality end
  stack.set_stack(spec)
  if e.export then stack.import_stack(e.export) end
end

local function clear(p)
  for _, kind in ipairs(INVENTORIES) do
    local inv = inventory_of(p, kind)
    if inv then inv.clear() end
  end
  if p.cursor_stack then p.cursor_stack.clear() end
  local q = p.crafting_queue or {}
  for i = #q, 1, -1 do p.cancel_crafting{index = q[i].index, count = q[i].count} end
end

local function restore(p, t)
  clear(p)
  for _, kind in ipairs(INVENTORIES) do
    local inv = inventory_of(p, kind)
    for _, e in ipairs((t.inventories or {})[kind] or {}) do
      if inv and e.slot >= 1 and e.slot <= #inv then put_stack(inv[e.slot], e) end
    end
  end
  if t.cursor and p.cursor_stack then put_stack(p.cursor_stack, t.cursor) end
  for i = 1, 100 do pcall(p.set_quick_bar_slot, i, nil) end
  for _, q in ipairs(t.quickbar or {}) do pcall(p.set_quick_bar_slot, q.slot, q.name) end
  for _, c in ipairs(t.crafting or {}) do pcall(p.begin_crafting, {recipe = c.recipe, count = c.count}) end
  for i = 1, 100 do
    if not pcall(p.clear_personal_logistic_slot, i) then break end
  end
  for _, l in ipairs(t.logistics or {}) do
    pcall(p.set_personal_logistic_slot, l.slot, {name = l.name, min = l.min, max = l.max})
  end
  if t.settings then
    if t.settings.tag then p.tag = t.settings.tag end
    if t.settings.color then p.color = t.settings.color end
  end
end

-- A temporary inventory joins the synced one: every stack into the main
-- inventory (items with data into empty slots, whole).
local function merge(p, t)
  local main = p.get_main_inventory()
  if not main then return end
  local function add(e)
    if e.export then
      for i = 1, #main do
        if not main[i].valid_for_read then put_stack(main[i], e) return end
      end
    else
      main.insert({name = e.name, count = e.count})
    end
  end
  for _, kind in ipairs(INVENTORIES) do
    for _, e in ipairs((t.inventories or {})[kind] or {}) do add(e) end
  end
  if t.cursor then add(t.cursor) end
end

-- ---- the player's view ------------------------------------------------------

local function show(p, caption, value)
  local f = p.gui.screen[GUI]
  if not f then
    f = p.gui.screen.add{type = "frame", name = GUI, caption = "Inventory sync"}
    f.add{type = "label", name = "text", caption = caption}
    f.add{type = "progressbar", name = "bar", value = value}
    return
  end
  f.text.caption = caption
  f.bar.value = value
end

local function hide(p)
  local f = p.gui.screen[GUI]
  if f then f.destroy() end
end

-- A spectator has no inventories in the game: the character stays behind
-- on the map (kept in s.body) and is taken back afterwards, or a new one
-- is made if it is gone.
local function spectate(p, s)
  if not s.spectating then
    s.spectating = true
    s.body = p.character
    p.set_controller{type = defines.controllers.spectator}
  end
end

local function unspectate(p, s)
  if s.spectating then
    s.spectating = nil
    local body = s.body
    s.body = nil
    if body and body.valid then
      p.set_controller{type = defines.controllers.character, character = body}
    else
      p.set_controller{type = defines.controllers.god}
      p.create_character()
    end
  end
end

local function synced(p, s)
  s.state = "synced"
  unspectate(p, s)
  hide(p)
end

local function ask(p, s)
  s.state = "waiting"
  s.asked = game.tick
  api.send("inventory", {op = "acquire", player = p.name, known = s.known})
end

-- ---- node -> game ---------------------------------------------------------

api.register("inventory_grant", function(a)
  local p = a and game.get_player(a.player)
  if not p or not p.connected then
    if a and a.gen and a.gen > 0 then
      api.send("inventory", {op = "release", player = a.player, gen = a.gen})
    end
    return {gone = true}
  end
  local s = pstate(p.name)
  if a.busy then
    s.state = "waiting_lock"
    s.retry_at = game.tick + RETRY_TICKS
    spectate(p, s)
    show(p, "Waiting for another server to hand over your inventory", 0)
    return {download = false}
  end
  s.gen = a.gen
  if a.stored == 0 or (a.stored == s.known and not s.temporary) then
    s.temporary = nil
    synced(p, s)
    return {download = false}
  end
  if s.temporary then s.pending_merge = serialize(p) end
  s.temporary = nil
  clear(p)
  spectate(p, s)
  show(p, "Downloading your inventory", 0)
  s.state = "downloading"
  s.stored = a.stored
  s.chunks = {}
  return {download = true}
end)

api.register("inventory_chunk", function(a)
  local p = a and game.get_player(a.player)
  local s = p and pstate(p.name)
  if not p or not p.connected or s.state ~= "downloading" or s.gen ~= a.gen then
    return {gone = true}
  end
  s.chunks[a.seq] = a.data
  show(p, "Downloading your inventory", a.seq / a.n)
  if a.seq < a.n then return {done = false} end
  local t = api.json_to_table(table.concat(s.chunks))
  s.chunks = nil
  if type(t) ~= "table" then
    s.state = "error"
    show(p, "Your inventory could not be read; /inventory-temporary plays with a temporary one", 0)
    return {done = true, error = "unreadable"}
  end
  unspectate(p, s) -- the inventories are the character's
  restore(p, t)
  if s.pending_merge then
    merge(p, s.pending_merge)
    s.pending_merge = nil
  end
  s.known = a.stored
  synced(p, s)
  return {done = true}
end)

-- ---- game events ----------------------------------------------------------

local function upload(p, s)
  local text = api.table_to_json(serialize(p))
  local n = math.max(1, math.ceil(#text / CHUNK))
  local pos, seq, pieces = 1, 0, {}
  while pos <= #text do
    local stop = math.min(pos + CHUNK - 1, #text)
    -- Never end a piece inside a UTF-8 sequence.
    while stop < #text and stop > pos and text:byte(stop + 1) >= 0x80 and text:byte(stop + 1) < 0xC0 do
      stop = stop - 1
    end
    pieces[#pieces + 1] = text:sub(pos, stop)
    pos = stop + 1
  end
  n = #pieces
  for _, piece in ipairs(pieces) do
    seq = seq + 1
    api.send("inventory", {op = "upload", player = p.name, gen = s.gen, seq = seq, n = n,
                           len = #text, release = true, data = piece})
  end
  s.known = s.gen
end

lib.events = {
  [defines.events.on_player_joined_game] = function(e)
    local p = game.get_player(e.player_index)
    local s = pstate(p.name)
    s.gen = 0
    s.spectating = nil
    ask(p, s)
  end,
  [defines.events.on_pre_player_left_game] = function(e)
    local p = game.get_player(e.player_index)
    local s = pstate(p.name)
    if s.gen > 0 and (s.state == "synced" or s.state == "temporary") then
      upload(p, s)
    elseif s.gen > 0 then
      api.send("inventory", {op = "release", player = p.name, gen = s.gen})
    end
    s.gen = 0
    s.state = "offline"
    s.chunks = nil
  end,
}

lib.on_nth_tick = {
  [60] = function()
    for name, s in pairs(st().players) do
      local p = game.get_player(name)
      if p and p.connected then
        local lock_wait = s.state == "waiting_lock" or (s.temporary and s.state == "temporary" and s.retry_at)
        if lock_wait and game.tick >= (s.retry_at or 0) then
          ask(p, s)
        elseif s.state == "waiting" and game.tick - (s.asked or 0) >= OFFER_TICKS and not s.offered then
          s.offered = true
          p.print("Inventory sync does not answer; /inventory-temporary lets you play with a temporary inventory.")
        end
      end
    end
  end,
}

-- /inventory-temporary [PLAYER]: play now with an empty temporary
-- inventory (what the player holds here may be an old copy of the synced
-- one, so it is cleared); it is merged into the synced one at the next
-- successful sync on this server. From the console, PLAYER names who.
local function temporary(cmd)
  local p = cmd.player_index and game.get_player(cmd.player_index)
  if not p and cmd.parameter then p = game.get_player(cmd.parameter) end
  if not p or not p.connected then
    if rcon then rcon.print("no such player online") end
    return
  end
  local s = pstate(p.name)
  if s.state == "synced" or s.state == "offline" or s.state == "temporary" then
    p.print("Your inventory is synced already.")
    if rcon then rcon.print("not needed: " .. s.state) end
    return
  end
  s.state = "temporary"
  s.temporary = true
  unspectate(p, s)
  hide(p)
  clear(p)
  p.print("Playing with a temporary inventory; it joins your synced one at the next sync.")
  if rcon then rcon.print("temporary") end
end

commands.add_command("inventory-temporary",
                     "Play with a temporary inventory while sync is unavailable.", temporary)

return lib
