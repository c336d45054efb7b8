-- silo-script.lua (stand-in): counts rocket launches per force, the part
-- of Factorio's library of that name a headless server exercises.

local silo = {}

silo.on_init = function()
  storage.silo_script = storage.silo_script or { launches = 0 }
end

silo.events = {
  [defines.events.on_rocket_launched] = function(event)
    local s = storage.silo_script
    if s then s.launches = s.launches + 1 end
  end,
}

silo.add_remote_interface = function()
  if remote.interfaces["silo_script"] then return end
  remote.add_interface("silo_script", {
    get_launch_count = function()
      return storage.silo_script and storage.silo_script.launches or 0
    end,
  })
end

return silo
