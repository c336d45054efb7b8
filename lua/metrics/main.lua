-- lua/metrics: the game's figures for clusterd's cluster-wide /metrics
-- (docs/metrics.md). Every 300 ticks (5 s at 60 UPS) it sends on the IPC
-- channel `metrics`:
--   {tick = game.tick, players = #connected players,
--    produced = {ITEM = COUNT, ...}, consumed = {ITEM = COUNT, ...}}
-- The counts are the player force's item production statistics since the
-- game began (1.1: force.item_production_statistics; 2.0: the statistics
-- of every surface, summed), at most 256 items each way. A game without
-- them (the stand-in) sends the tick and the players. While these reports
-- arrive the node does not sample the game over RCON; it computes UPS
-- from the ticks. Nothing is persisted: a report lost with a crash is
-- replaced by the next.
local api = require("modules/clusterd/api")

local ITEMS_MAX = 256
local PERIOD = 300

local lib = {}

-- Adds up to ITEMS_MAX counts of t into out (a table name -> count).
local function add(out, t)
	local n = 0
	for name, count in pairs(out) do n = n + 1 end
	for name, count in pairs(t) do
		if out[name] == nil then
			if n >= ITEMS_MAX then break end
			n = n + 1
			out[name] = 0
		end
		out[name] = out[name] + count
	end
end

-- The player force's production statistics, or nil, nil without them.
local function statistics()
	local produced, consumed = {}, {}
	local ok = pcall(function()
		local force = game.forces["player"]
		if force.get_item_production_statistics then
			for _, surface in pairs(game.surfaces) do
				local st = force.get_item_production_statistics(surface)
				add(produced, st.input_counts)
				add(consumed, st.output_counts)
			end
		else
			local st = force.item_production_statistics
			add(produced, st.input_counts)
			add(consumed, st.output_counts)
		end
	end)
	if not ok then return nil, nil end
	return produced, consumed
end

local function report()
	local produced, consumed = statistics()
	local msg = {tick = game.tick, players = #game.connected_players}
	-- An empty Lua table encodes as a JSON array: leave empty maps out.
	if produced and next(produced) then msg.produced = produced end
	if consumed and next(consumed) then msg.consumed = consumed end
	api.send("metrics", msg)
end

lib.on_nth_tick = {[PERIOD] = report}

return lib
