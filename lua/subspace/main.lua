-- modules/subspace/main.lua: cross-server item transfer, the game's half
-- of clusterd's item ledger (the node's half is node/items.c; the ledger
-- storage/ledger.h). Modelled on Clusterio's subspace_storage:
--
--   export chests hand their whole contents to the cluster each cycle
--     (62 ticks): message {"type":"export","seq":S,"items":[...]} on
--     channel "items". S counts this save's exports 1, 2, 3, ...; the
--     ledger applies each (instance, S) once, so a message sent again, or
--     sent again after the game reloaded an autosave, is not counted twice.
--   import chests ask each cycle for what they miss: for each wanted item,
--     the wanted count minus what the chest holds (Clusterio's extractor
--     rule), summed over the chests: {"type":"request","items":[...]}.
--   the node pushes grants through the remote function subspace_grant
--     {grant = id, items = [...]}: they are inserted into the import chests
--     in proportion to what each misses, at most once per grant id; what
--     does not fit is answered as "returned" and goes back to the ledger.
--
-- Chests are registered with the remote function subspace_chest
-- {unit = N, kind = "export"|"import", wants = [{name, count, quality}]}
-- (a console command or another mod calls it); unit is the entity's
-- unit_number on surface 1. A chest that is gone is forgotten.
local api = require("modules/clusterd/api")

local lib = {}
local CYCLE = 62
-- Lines per message: the ledger's bound on one command.
local LINES_MAX = 64
-- Grant ids remembered (with what each returned) to answer a repeat.
local APPLIED_MAX = 1024

-- Entities by unit number, found again after a load (not persisted).
local cache = {}

local function data()
  local d = api.data("subspace")
  d.chests = d.chests or {}
  d.seq = d.seq or 0
  d.applied = d.applied or {}
  d.applied_order = d.applied_order or {}
  d.stats = d.stats or {exported = 0, imported = 0, returned = 0, grants = 0}
  return d
end

local function entity(unit)
  local e = cache[unit]
  if e and e.valid then return e end
  cache[unit] = nil
  for _, c in pairs(game.surfaces[1].find_entities_filtered({})) do
    if c.unit_number == unit then
      cache[unit] = c
      return c
    end
  end
  return nil
end

local function inventory(unit)
  local e = entity(unit)
  return e and e.get_inventory(defines.inventory.chest) or nil
end

local function key(name, quality)
  return name .. "/" .. (quality or "normal")
end

-- Adds count of (name, quality) into the totals table and its order.
local function add(totals, order, name, quality, count)
  local k = key(name, quality)
  if not totals[k] then
    totals[k] = {name = name, quality = quality or "normal", count = 0}
    order[#order + 1] = k
  end
  totals[k].count = totals[k].count + count
end

local function lines(totals, order)
  local out = {}
  for _, k in ipairs(order) do
    if totals[k].count > 0 then out[#out + 1] = totals[k] end
  end
  return out
end

-- ---- export ------------------------------------------------------------

local function export(d)
  local totals, order, taken = {}, {}, {}
  for unit, c in pairs(d.chests) do
    if c.kind == "export" then
      local inv = inventory(unit)
      if not inv then
        d.chests[unit] = nil
      else
        for _, it in ipairs(api.contents(inv)) do
          add(totals, order, it.name, it.quality, it.count)
          taken[#taken + 1] = {inv = inv, it = it}
        end
      end
    end
  end
  local all = lines(totals, order)
  if #all == 0 then return end
  -- Send first: when the outbox refuses, the items stay in the chests.
  for i = 1, #all, LINES_MAX do
    local part = {}
    for j = i, math.min(i + LINES_MAX - 1, #all) do part[#part + 1] = all[j] end
    d.seq = d.seq + 1
    if not api.send("items", {type = "export", seq = d.seq, items = part}) then
      d.seq = d.seq - 1
      if i == 1 then return end
      -- Only the first parts left: take just what they carried.
      local sent = {}
      for j = 1, i - 1 do sent[key(all[j].name, all[j].quality)] = true end
      local keep = {}
      for _, t in ipairs(taken) do
        if sent[key(t.it.name, t.it.quality)] then keep[#keep + 1] = t end
      end
      taken = keep
      break
    end
  end
  for _, t in ipairs(taken) do
    t.inv.remove(api.stack(t.it.name, t.it.count, t.it.quality))
    d.stats.exported = d.stats.exported + t.it.count
  end
end

-- ---- import ------------------------------------------------------------

-- What each import chest misses: {unit, inv, want = {name, quality, miss}}.
local function missing(d)
  local out = {}
  for unit, c in pairs(d.chests) do
    if c.kind == "import" then
      local inv = inventory(unit)
      if not inv then
        d.chests[unit] = nil
      else
        local held = {}
        for _, it in ipairs(api.contents(inv)) do
          held[key(it.name, it.quality)] = it.count
        end
        for _, w in ipairs(c.wants or {}) do
          local have = held[key(w.name, w.quality)] or 0
          local miss = (w.count or 0) - have
          if miss > 0 then
            out[#out + 1] = {unit = unit, inv = inv, name = w.name,
                             quality = w.quality or "normal", miss = miss}
          end
        end
      end
    end
  end
  return out
end

local function request(d)
  local totals, order = {}, {}
  for _, m in ipairs(missing(d)) do
    add(totals, order, m.name, m.quality, m.miss)
  end
  local all = lines(totals, order)
  if #all == 0 and not d.asking then return end
  d.asking = #all > 0
  local part = {}
  for i = 1, math.min(#all, LINES_MAX) do part[i] = all[i] end
  api.send("items", {type = "request", items = part})
end

-- Inserts count of an item into the chests that miss it, in proportion
-- to what each misses, then into any of them; returns what did not fit.
local function insert(misses, name, quality, count)
  local total, mine = 0, {}
  for _, m in ipairs(misses) do
    if m.name == name and m.quality == quality then
      mine[#mine + 1] = m
      total = total + m.miss
    end
  end
  local left = count
  for _, m in ipairs(mine) do
    local share = math.floor(count * m.miss / total)
    if share > left then share = left end
    if share > 0 then
      left = left - m.inv.insert(api.stack(name, share, quality))
    end
  end
  for _, m in ipairs(mine) do
    if left == 0 then break end
    left = left - m.inv.insert(api.stack(name, left, quality))
  end
  return left
end

local function remember(d, id, returned)
  d.applied[id] = returned
  d.applied_order[#d.applied_order + 1] = id
  while #d.applied_order > APPLIED_MAX do
    d.applied[table.remove(d.applied_order, 1)] = nil
  end
end

-- The node pushes a grant: {grant = "id", items = [{name, count, quality}]}.
api.register("subspace_grant", function(args)
  local d = data()
  local id = tostring(args.grant)
  if d.applied[id] then
    return {grant = id, returned = d.applied[id], repeated = true}
  end
  local misses = missing(d)
  local returned = {}
  for _, it in ipairs(args.items or {}) do
    local q = it.quality or "normal"
    local ok, left = pcall(insert, misses, it.name, q, it.count)
    if not ok then left = it.count end -- unknown item, or quality on 1.1
    if left > 0 then
      returned[#returned + 1] = {name = it.name, count = left, quality = q}
      d.stats.returned = d.stats.returned + left
    end
    d.stats.imported = d.stats.imported + (it.count - left)
  end
  d.stats.grants = d.stats.grants + 1
  remember(d, id, returned)
  return {grant = id, returned = returned}
end)

-- Registers a chest: {unit, kind = "export"|"import", wants = [...]}.
api.register("subspace_chest", function(args)
  local d = data()
  if args.kind ~= "export" and args.kind ~= "import" and args.kind ~= "none" then
    error("kind must be export, import or none")
  end
  if not entity(args.unit) then error("no entity with unit number " .. tostring(args.unit)) end
  if args.kind == "none" then
    d.chests[args.unit] = nil
  else
    d.chests[args.unit] = {kind = args.kind, wants = args.wants}
  end
  return "ok"
end)

-- What the module did: counters, the export seq, the chests.
api.register("subspace_status", function()
  local d = data()
  local n = 0
  for _ in pairs(d.chests) do n = n + 1 end
  return {seq = d.seq, chests = n, exported = d.stats.exported,
          imported = d.stats.imported, returned = d.stats.returned,
          grants = d.stats.grants}
end)

lib.on_nth_tick = {
  [CYCLE] = function()
    local d = data()
    export(d)
    request(d)
  end,
}

return lib
