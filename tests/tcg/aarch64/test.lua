-- Exercise the Lua 5.4 interpreter: strings, tables, closures, metatables,
-- coroutines, integer/float math, string.format, pcall/error, goto, utf8.
-- Output must be deterministic (no os.time, no pairs() order dependence).

local function section(name) print(("== %s =="):format(name)) end

section("strings")
local s = "The quick brown fox jumps over the lazy dog"
print(#s, s:upper(), s:lower():sub(5, 9), s:rep(2, "|"):len())
print(s:find("fox"), s:find("o", 20, true), s:match("(%a+) dog"), select("#", s:byte(1, 5)))
print(s:gsub("o", "0"))
print(("%q"):format("tab\there \"quoted\"\n"), ("x"):byte(), string.char(72, 105))
local words = {}
for w in s:gmatch("%a+") do words[#words + 1] = w:reverse() end
print(table.concat(words, ","))
print(("key=value; other=thing"):gsub("(%w+)=(%w+)", "%2=%1"))
print(tostring(nil), tostring(true), tostring(12), tostring(12.0), tostring(-0.0), 2^53, 10 // 3, 10.0 // 3)

section("tables")
local t = {}
for i = 1, 20 do t[i] = (i * 7919) % 101 end
table.sort(t)
print(table.concat(t, " "))
table.sort(t, function(a, b) return a > b end)
print(t[1], t[#t], #t)
table.insert(t, 1, -1); table.remove(t, 2); print(t[1], t[2], #t)
print(table.unpack({1, 2, 3}, 2))
local packed = table.pack(nil, "b", nil)
print(packed.n, packed[2])
local keys = {}
for k in pairs({zeta = 1, alpha = 2, mid = 3}) do keys[#keys + 1] = k end
table.sort(keys); print(table.concat(keys, " "))
print(table.move({1, 2, 3, 4, 5}, 2, 4, 1)[1], next({}), rawlen({1, 2}), rawequal(t, t))

section("closures")
local function counter(step)
  local n = 0
  return function() n = n + step; return n end
end
local c1, c2 = counter(1), counter(10)
c1(); c1(); c2()
print(c1(), c2())
local fns = {}
for i = 1, 3 do fns[i] = function() return i * i end end
print(fns[1](), fns[2](), fns[3]())
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
print("fib(15)=" .. fib(15))
local function varargs(...) return select("#", ...), ... end
print(varargs(1, nil, 3))

section("metatables")
local Vec = {}
Vec.__index = Vec
function Vec.new(x, y) return setmetatable({x = x, y = y}, Vec) end
Vec.__add = function(a, b) return Vec.new(a.x + b.x, a.y + b.y) end
Vec.__eq = function(a, b) return a.x == b.x and a.y == b.y end
Vec.__tostring = function(v) return ("(%g, %g)"):format(v.x, v.y) end
Vec.__len = function(v) return math.sqrt(v.x * v.x + v.y * v.y) end
function Vec:scale(k) return Vec.new(self.x * k, self.y * k) end
local v = Vec.new(3, 4) + Vec.new(0.5, -1)
print(tostring(v), #Vec.new(3, 4), v == Vec.new(3.5, 3), tostring(v:scale(2)))
local defaults = setmetatable({}, {__index = function(_, k) return k .. "!" end})
print(defaults.hello, rawget(defaults, "hello"))

section("coroutines")
local gen = coroutine.wrap(function()
  for i = 1, 5 do coroutine.yield(i * i) end
  return "done"
end)
local out = {}
for _ = 1, 6 do out[#out + 1] = tostring(gen()) end
print(table.concat(out, " "))
local co = coroutine.create(function(a, b)
  local c = coroutine.yield(a + b)
  local d, e = coroutine.yield(c * 2)
  return d + e
end)
print(coroutine.resume(co, 1, 2))
print(coroutine.resume(co, 10))
print(coroutine.resume(co, 3, 4))
print(coroutine.resume(co), coroutine.status(co))
local producer = coroutine.wrap(function() for w in ("a b c"):gmatch("%a") do coroutine.yield(w) end end)
print(producer(), producer(), producer())

section("math")
print(math.maxinteger, math.mininteger, math.maxinteger + 1 == math.mininteger)
print(7 // 2, -7 // 2, 7 % -3, -7 % 3, 7.5 % 2, 1 / 0, -1 / 0, math.huge)
print(math.floor(-3.5), math.ceil(-3.5), math.fmod(-7, 3), math.abs(-2 ^ 63), math.tointeger(3.0))
print(3 & 5, 3 | 5, 3 ~ 5, ~0, 1 << 62, 1 << 64, -1 >> 1, 0xff, 0x7fffffffffffffff + 0)
print(math.sqrt(2), math.sin(1), math.cos(1), math.exp(1), math.log(100, 10), math.log(8, 2), math.pi)
print(math.type(1), math.type(1.0), math.type("1"), math.ult(1, -1), 1e15, 1e16, 2^63, -2^63 == math.mininteger)
print(string.format("%.3f %e %g %g %g %10.4f|%-8.2f|%+d %x %X %o %5s %-5s| %c%c", math.pi, 123456.789,
  0.0001, 1e20, 100000, -2.5, 3.14159, 42, 255, 255, 8, "ab", "cd", 76, 117))
print(string.format("%a %.14g %.17g %g %g", 1.0, 0.1, 0.1, 1 / 3, -0.0))
print(tonumber("0x10"), tonumber("  12  "), tonumber("1e2"), tonumber("z", 36), tonumber("10", 2), tonumber("abc"))
print(8 // 0.0, -8 // 0.0, 0 / 0 ~= 0 / 0, math.max(3, 7.5, -1), math.min(2, -4))
local acc = 0
for i = 1, 2000 do acc = acc + (i % 7) * 0.5 - (i // 3) end
print("acc=" .. acc)
math.randomseed(42)
local r1 = math.random(1, 1000)
math.randomseed(42)
print("random reproducible:", r1 == math.random(1, 1000))

section("errors")
print(pcall(error, "plain message"))
print(select(2, pcall(error, {code = 7})).code)
print(select(2, pcall(function() local x = nil; return x.field end)):match("attempt to index"))
print(xpcall(function() error("deep", 0) end, function(m) return "handled: " .. m end))
local ok, err = pcall(string.rep)
print(ok, (err:gsub("^.-:%d+: ", "")))
print((select(2, pcall(function() return 1 + {} end)):gsub("^.-:%d+: ", "")))

section("misc")
for i = 1, 3 do
  for j = 1, 3 do
    if j == 2 then goto continue end
    io.write(i, ":", j, " ")
    ::continue::
  end
end
io.write("\n")
print(utf8.char(72, 228, 8364, 128512), utf8.len("häll€"), #"häll€")
for _, cp in utf8.codes("aé€") do io.write(cp, " ") end
io.write("\n")
local big = {}
for i = 1, 500 do big[i] = tostring(i) end
local joined = table.concat(big)
print(#joined, joined:sub(-10), select("#", string.byte(joined, 1, 100)))
print(string.pack and #string.pack("i4i8d", 1, 2, 3.0), string.unpack("<i4", string.pack("<i4", -2)))
print(os.getenv("NO_SUCH_VARIABLE_HOPEFULLY"), type(os.clock()), os.date("!%Y-%m-%d %H:%M:%S", 0))
print(load("return 6 * 7")(), load("syntax error here"))
collectgarbage()
print(collectgarbage("count") > 0)
os.exit(3)
