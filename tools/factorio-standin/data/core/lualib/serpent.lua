-- serpent.lua (stand-in): the part of the serpent serializer that Factorio
-- exposes as the global `serpent`: line, block, dump and load. Keys are
-- sorted (numbers first, then strings), as serpent does by default; a
-- table met again (shared or cyclic) is written as nil with a comment.
-- Written for the stand-in; output may differ from serpent in details.

local serpent = {}

local keywords = {}
for w in ([[and break do else elseif end false for function goto if in
  local nil not or repeat return then true until while]]):gmatch("%a+") do
  keywords[w] = true
end

local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta < tb end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local function scalar(v)
  local t = type(v)
  if t == "string" then return string.format("%q", v):gsub("\\\n", "\\n") end
  if t == "number" then
    if v ~= v then return "0/0" end
    if v == math.huge then return "math.huge" end
    if v == -math.huge then return "-math.huge" end
    if v == math.floor(v) and math.abs(v) < 2^53 then return string.format("%d", v) end
    return string.format("%.17g", v)
  end
  if t == "boolean" or t == "nil" then return tostring(v) end
  return "nil --[[" .. tostring(v) .. "]]"
end

local function render(v, indent, level, seen)
  if type(v) ~= "table" then return scalar(v) end
  if seen[v] then return "nil --[[ref]]" end
  seen[v] = true
  local keys, n = {}, #v
  for k in pairs(v) do
    if not (type(k) == "number" and k >= 1 and k <= n and k == math.floor(k)) then
      keys[#keys + 1] = k
    end
  end
  table.sort(keys, key_less)
  local parts = {}
  for i = 1, n do parts[#parts + 1] = render(v[i], indent, level + 1, seen) end
  for _, k in ipairs(keys) do
    local ks
    if type(k) == "string" and k:match("^[%a_][%w_]*$") and not keywords[k] then
      ks = k
    else
      ks = "[" .. render(k, indent, level + 1, seen) .. "]"
    end
    parts[#parts + 1] = ks .. " = " .. render(v[k], indent, level + 1, seen)
  end
  seen[v] = nil
  if #parts == 0 then return "{}" end
  if not indent then return "{" .. table.concat(parts, ", ") .. "}" end
  local pad = string.rep(indent, level + 1)
  return "{\n" .. pad .. table.concat(parts, ",\n" .. pad) .. "\n" ..
    string.rep(indent, level) .. "}"
end

function serpent.line(v) return render(v, nil, 0, {}) end
function serpent.block(v) return render(v, "  ", 0, {}) end
function serpent.dump(v) return "do local _ = " .. render(v, nil, 0, {}) .. "; return _; end" end

function serpent.load(s)
  local chunk, err = load(s:match("^%s*do") and s or ("return " .. s), "serpent", "t", {math = {huge = math.huge}})
  if not chunk then return false, err end
  local ok, v = pcall(chunk)
  if not ok then return false, v end
  return true, v
end

return serpent
