-- The one JSON writer (docs/architecture.md, "JSON"): every JSON text otarun writes (the plan,
-- diagnostics, results, run and log lines, `call`'s answers, the state store's canonical params)
-- comes from here with a stable key order, so two identical runs give identical bytes. Objects
-- keep a fixed key order (known keys first, in the ORDER below, the plan document's, then the
-- rest sorted by bytes), or plain byte order with { sorted = true }. cjson is for decoding only
-- (its encoder has no key order and escapes "/"); cjson.null is still the null value here.
local cjson = require("cjson")

local M = {}

M.null = cjson.null

local ARRAY, OBJECT, LAZY = {}, {}, {}
-- Marks an empty (or any) table as a JSON array / object; without a mark, a table whose keys are
-- exactly 1..n is an array, and an empty table is an array (an object with { empty_object = true }).
function M.array(t) return setmetatable(t or {}, ARRAY) end
function M.object(t) return setmetatable(t or {}, OBJECT) end
-- A value whose JSON text fn(put) writes, piece by piece, when the encoder reaches it (a
-- renderer's fast path for a fixed shape); the text must be indented for where it sits.
function M.lazy(fn) return setmetatable({ fn = fn }, LAZY) end
-- A metatable whose objects keep the key order given (keys not listed follow, sorted by bytes):
-- small typed objects such as a wait condition, whose `kind` comes first. Other metamethods may be
-- added to the table returned.
function M.ordered(keys) return { __json_order = keys } end

-- Key order: lower rank first; keys without a rank after them, sorted by bytes.
local ORDER = {
  "format_version", "generated_at", "mode", "now", "state_fingerprint",
  "name", "policy", "severity", "rule", "level", "passed", "overridden", "message",
  "product", "region", "instance", "file", "line", "rollout", "wave", "param",
  "firmware", "id", "version", "type", "src_version", "size", "files", "verified",
  "kind", "status", "action", "reason", "waiting_for", "job_id", "earliest_start", "calls", "params",
  "create", "update", "replace", "cancel", "wait", "errors", "warnings",
  "rollouts", "waves", "diagnostics", "policies", "summary",
}

M.ORDER = ORDER

-- The text itself is written by otarun.core.json (src/l_json.c, over src/jsonw.c): the walk of
-- the value, the key order above, the marks, and the escapes and numbers below.
-- Strings: '"', '\\' and control characters (0x00-0x1f, 0x7f) escaped, \b \f \n \r \t by name,
-- the rest as \u00XX; every other byte as is ("/" too). Numbers: integers as such; other numbers
-- integral below 2^53 as integers, else the shorter of %.14g / %.17g that reads back the same;
-- NaN and infinities are an error. Tables nested deeper than 64 levels are an error.
local DEFER = {}
-- A value made by fn() when the encoder reaches it and dropped once written: a large document's
-- parts (a rollout's waves) need not all exist at once.
function M.deferred(fn) return setmetatable({ fn = fn }, DEFER) end
local GENERATED = {}
-- An array of n values, the i-th made by fn(i) when the encoder reaches it and written at once:
-- fn may refill and return the same table every time, so a long list leaves no garbage.
function M.generated(n, fn) return setmetatable({ n = n, fn = fn }, GENERATED) end

local writer = require("otarun.core.json").writer(ORDER, ARRAY, OBJECT, LAZY, DEFER, GENERATED, cjson.null)

M.quote = writer.quote
M.escaped = writer.escaped
M.ARRAY, M.OBJECT = ARRAY, OBJECT

-- encode(value, opts) -> text. opts: indent = "  " (compact without), sorted = true (byte order
-- for every key), empty_object = true (unmarked empty tables as {}), omit = fn(key) -> true to
-- leave a member out (at any depth).
M.encode = writer.encode

-- One line of JSON (compact, no newline inside) for line-oriented output.
function M.line(v) return M.encode(v) .. "\n" end

-- A value written as the JSON text given (already encoded, say stored canonical JSON).
function M.raw(text) return M.lazy(function(put) put(text) end) end

-- The file of each sink made by file_sink: write() hands the text to it directly.
local FILE_OF = setmetatable({}, { __mode = "k" })

-- write(value, sink, opts) streams the text as pieces: sink(buf, n) gets buf[1..n] (today one
-- piece of about 64 KB at a time, and the rest at the end). A file_sink's file gets the text
-- without a Lua string in between (errors ignored, as fh:write's are below).
function M.write(v, sink, opts)
  return writer.write(v, sink, opts, FILE_OF[sink])
end

-- A sink that writes to an open file.
function M.file_sink(fh)
  local sink = function(buf, n) fh:write(table.concat(buf, "", 1, n)) end
  if io.type(fh) == "file" then FILE_OF[sink] = fh end
  return sink
end

-- A sink that collects the text: sink, result() -> text.
function M.string_sink()
  local parts = {}
  return function(buf, n) parts[#parts + 1] = table.concat(buf, "", 1, n) end,
         function() return table.concat(parts) end
end

function M.decode(text)
  return cjson.decode(text)
end

return M
