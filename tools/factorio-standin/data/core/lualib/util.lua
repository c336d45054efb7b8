-- util.lua (stand-in): the few helpers of Factorio's util library that
-- scenario scripts commonly use.

local util = {}

function util.table_deepcopy(t)
  local seen = {}
  local function copy(v)
    if type(v) ~= "table" then return v end
    if seen[v] then return seen[v] end
    local c = {}
    seen[v] = c
    for k, x in pairs(v) do c[copy(k)] = copy(x) end
    return setmetatable(c, getmetatable(v))
  end
  return copy(t)
end

util.copy = util.table_deepcopy

function util.merge(tables)
  local out = {}
  for _, t in ipairs(tables) do
    for k, v in pairs(t) do out[k] = v end
  end
  return out
end

function util.split(s, sep)
  local out = {}
  for part in string.gmatch(s, "([^" .. sep .. "]+)") do out[#out + 1] = part end
  return out
end

function util.format_number(n)
  local s = tostring(math.floor(n))
  return (s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", ""))
end

return util
