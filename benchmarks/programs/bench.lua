-- Lua 5.4 workload for benchmarks/run.py: table-heavy, string-heavy and closure-heavy
-- phases with a deterministic checksum. Scale with the first argument (default 1).
local scale = tonumber(arg and arg[1]) or 1

-- 1. tables: an LCG-filled array, insertion into a hash, sorting
local function tables(n)
  local t, seed = {}, 12345
  for i = 1, n do
    seed = (seed * 1103515245 + 12345) % 2147483648
    t[i] = seed % 100000
  end
  table.sort(t)
  local h, sum = {}, 0
  for i = 1, n do
    local k = t[i] % 4099
    h[k] = (h[k] or 0) + 1
  end
  for k, v in pairs(h) do sum = sum + k * v end
  return sum + t[1] + t[n]
end

-- 2. strings: formatting, concatenation through a buffer, pattern matching
local function strings(n)
  local parts = {}
  for i = 1, n do
    parts[#parts + 1] = string.format("%d:%x;", i, i * 7)
  end
  local s = table.concat(parts)
  local count, total = 0, 0
  for a, b in s:gmatch("(%d+):(%x+);") do
    count = count + 1
    total = total + tonumber(a) + tonumber(b, 16)
  end
  return count + total + #s:upper():gsub("A", "b")
end

-- 3. closures and method calls: a small object system
local Point = {}
Point.__index = Point
function Point.new(x, y) return setmetatable({x = x, y = y}, Point) end
function Point:add(o) return Point.new(self.x + o.x, self.y + o.y) end
function Point:norm1() return math.abs(self.x) + math.abs(self.y) end
local function objects(n)
  local acc = Point.new(0, 0)
  local step = function(i) return Point.new(i % 7 - 3, i % 5 - 2) end
  for i = 1, n do acc = acc:add(step(i)) end
  return acc:norm1()
end

-- 4. recursion and floating point
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
local function floats(n)
  local x = 0.0
  for i = 1, n do x = x + math.sin(i * 0.001) * math.sqrt(i) end
  return string.format("%.6f", x)
end

local results = {}
for round = 1, scale do
  results[#results + 1] = tables(26000)
  results[#results + 1] = strings(13000)
  results[#results + 1] = objects(43003)
  results[#results + 1] = fib(22)
  results[#results + 1] = floats(43000)
end
print(table.concat(results, " "))
