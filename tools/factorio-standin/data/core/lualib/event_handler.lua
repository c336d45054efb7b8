-- event_handler.lua (stand-in): lets several libraries share the one
-- handler per event that script.on_event allows, as Factorio's core
-- library of the same name does. A library is a table with any of:
-- events = {[id] = f}, on_nth_tick = {[n] = f}, on_init, on_load,
-- on_configuration_changed, add_remote_interface, add_commands.
-- Handlers run in the order the libraries were added.

local libraries = {}

local function for_each_lib(field, ...)
  for _, lib in ipairs(libraries) do
    local f = lib[field]
    if f then f(...) end
  end
end

local function register_events()
  local by_event, by_nth = {}, {}
  local event_order, nth_order = {}, {}
  for _, lib in ipairs(libraries) do
    for id, handler in pairs(lib.events or {}) do
      if not by_event[id] then
        by_event[id] = {}
        event_order[#event_order + 1] = id
      end
      table.insert(by_event[id], handler)
    end
    for n, handler in pairs(lib.on_nth_tick or {}) do
      if not by_nth[n] then
        by_nth[n] = {}
        nth_order[#nth_order + 1] = n
      end
      table.insert(by_nth[n], handler)
    end
  end
  for _, id in ipairs(event_order) do
    local handlers = by_event[id]
    script.on_event(id, function(event)
      for _, h in ipairs(handlers) do h(event) end
    end)
  end
  for _, n in ipairs(nth_order) do
    local handlers = by_nth[n]
    script.on_nth_tick(n, function(event)
      for _, h in ipairs(handlers) do h(event) end
    end)
  end
end

local function setup()
  for_each_lib("add_remote_interface")
  for_each_lib("add_commands")
  register_events()
end

script.on_init(function()
  setup()
  for_each_lib("on_init")
end)

script.on_load(function()
  setup()
  for_each_lib("on_load")
end)

script.on_configuration_changed(function(data)
  for_each_lib("on_configuration_changed", data)
end)

local handler = {}

function handler.add_lib(lib)
  if type(lib) ~= "table" then
    error("event_handler.add_lib expects a table, got " .. type(lib))
  end
  for _, known in ipairs(libraries) do
    if known == lib then error("Trying to register same lib twice") end
  end
  table.insert(libraries, lib)
end

function handler.add_libraries(libs)
  for _, lib in ipairs(libs) do handler.add_lib(lib) end
end

return handler
