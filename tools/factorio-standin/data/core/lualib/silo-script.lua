-- silo-script.lua (stand-in): counts rocket launches per force, the part
-- of Factorio's library of that name a headless server exercises.

local silo = {}

-- Factorio 2.0 persists `storage`, 1.1 `global`; this library runs on both.
local function data() return storage or global end

silo.on_init = function()
  data().silo_script = data().silo_script or { launches = 0 }
end

silo.events = {
  [defines.events.on_rocket_launched] = function(event)
    local s = data().silo_script
    if s then s.launches = s.launches + 1 end
  end,
}

silo.add_remote_interface = function()
  if remote.interfaces["silo_script"] then return end
  remote.add_interface("silo_script", {
    get_launch_count = function()
      return data().silo_script and data().silo_script.launches or 0
    end,
  })
end

return silo
