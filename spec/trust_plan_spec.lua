-- Saved plans are artifacts that travel between CI jobs (docs/trust.md): an edited plan.json must
-- be refused (exit 5, nothing sent) and a malformed one is an error (exit 1), never "Apply
-- complete". Runs plan --out and apply PLAN against the real emulator over 127.0.0.1.
local h = require("helpers")
local ah = require("apply_helpers")
local cjson = require("cjson")

local function changing_requests(server)
  local c = ah.admin(server, "GET", "counters")
  local n = 0
  for action, count in pairs(c.requests.by_action or {}) do
    if not (action:match("^Query") or action:match("^List") or action:match("^Get")) then n = n + count end
  end
  return n
end

describe("apply PLAN applies exactly the reviewed plan", function()
  local dir, server, db, script, plan_path, original

  setup(function()
    dir, server, db = ah.up(3)
    script = h.write(dir .. "/gated.lua", string.format([[
rollout "cam-0001" {
  product = %q, region = "cn-shanghai",
  firmware = firmware { id = %q, version = "2.4.0", verified = true },
  wave "first" { versions = { "2.3.1" }, rate = 10, timeout = "1h" },
  wave "second" { versions = { "2.3.0" }, rate = 10, timeout = "1h", approve = true },
}
]], ah.PK, ah.firmware_id(1)))
    plan_path = dir .. "/plan.json"
    local code, out, err = ah.otarun(server, db, { "plan", script, "--out", plan_path })
    assert(code == 0, out .. err)
    original = h.slurp(plan_path)
  end)
  teardown(function() ah.down(server, dir) end)

  -- Writes an edited copy of the saved plan; edit(doc) changes the decoded document.
  local function edited(name, edit)
    local doc = cjson.decode(original)
    edit(doc)
    return h.write(dir .. "/" .. name .. ".json", cjson.encode(doc))
  end

  local function first_call(doc)
    for _, w in ipairs(doc.rollouts[1].waves) do
      if w.calls and w.calls[1] then return w.calls[1], w end
    end
  end

  local function refused(path, code_wanted, pattern)
    ah.admin(server, "POST", "counters/reset")
    local code, out, err = ah.otarun(server, db, { "apply", path })
    assert.are.equal(code_wanted, code, out .. err)
    assert.matches(pattern, err)
    assert.is_nil(out:find("Apply complete", 1, true), out)
    assert.is_nil((out .. err):find("traceback", 1, true), out .. err)
    assert.are.equal(0, changing_requests(server))
    assert.are.equal(0, #ah.jobs(server))
  end

  it("refuses an edited rate (MaximumPerMinute 10 -> 10000)", function()
    local p = edited("rate", function(doc)
      local c = first_call(doc)
      assert.are.equal("10", tostring(c.params.MaximumPerMinute))
      c.params.MaximumPerMinute = "10000"
    end)
    refused(p, 5, "does not match what its scripts and the recorded state produce")
  end)

  it("refuses an edited source version", function()
    local p = edited("src", function(doc) first_call(doc).params["SrcVersion.1"] = "1.0.0" end)
    refused(p, 5, "does not match")
  end)

  it("refuses an action the planner never emits", function()
    local p = edited("action", function(doc) first_call(doc).action = "DeleteOTAFirmware" end)
    refused(p, 5, "does not match")
  end)

  it("refuses an approval-gated wave marked as create", function()
    local p = edited("approval", function(doc)
      local first, wave = first_call(doc)
      local gated = doc.rollouts[1].waves[2]
      assert.are_not.equal("create", gated.action)
      gated.action = "create"
      gated.status = wave.status
      local params = {}
      for k, v in pairs(first.params) do params[k] = v end
      params["SrcVersion.1"] = "2.3.0"
      gated.calls = { { action = first.action, params = params } }
    end)
    refused(p, 5, "does not match")
  end)

  it("refuses malformed plans with an error (exit 1)", function()
    refused(edited("waves", function(doc) doc.rollouts[1].waves = "x" end), 1, "waves must be an array")
    refused(edited("fp", function(doc) doc.state_fingerprint = 123 end), 1, "state_fingerprint must be a string")
    refused(edited("params", function(doc) first_call(doc).params = { 1, 2 } end), 1, "params must be an object")
    refused(edited("now", function(doc) doc.saved.now = "soon" end), 1, "saved%.now must be an epoch")
    refused(h.write(dir .. "/rollouts.json", '{"format_version":"1.0","rollouts":"x","saved":{"format":"otarun-saved-plan/1"}}'),
      1, "is not a saved plan %(no rollouts%)")
  end)

  it("applies the untouched plan", function()
    local code, out, err = ah.otarun(server, db, { "apply", h.write(dir .. "/same.json", original) })
    assert.are.equal(0, code, out .. err)
    assert.matches("Apply complete: 1 waves, 1 calls", out, 1, true)
    assert.are.equal(1, #ah.jobs(server))
  end)

  it("plan, status and log work on a read-only state directory", function()
    -- as root, chmod does not stop writes: run the commands as nobody instead
    local root = (io.popen("id -u"):read("a") or ""):match("^0") ~= nil
    local as_nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups"
    if root and not os.execute(as_nobody .. " " .. h.shell_quote(h.bin) .. " version >/dev/null 2>&1") then
      pending("the binary cannot be run as nobody here (a private build directory)")
      return
    end
    os.execute("chmod 755 " .. h.shell_quote(dir) .. "; chmod 644 " .. h.shell_quote(db) .. "* "
      .. h.shell_quote(script) .. (root and "" or ("; chmod 555 " .. h.shell_quote(dir))))
    for _, argv in ipairs({ { "status", script }, { "log", script }, { "plan", "--refresh=false", script }, { "plan", script } }) do
      local full = {}
      for k, v in pairs(ah.env()) do full[#full + 1] = k .. "=" .. h.shell_quote(v) end
      if root then full[#full + 1] = as_nobody end
      full[#full + 1] = h.shell_quote(h.bin)
      for _, a in ipairs(argv) do full[#full + 1] = h.shell_quote(a) end
      for _, a in ipairs({ "--endpoint", server.url, "--state", db }) do full[#full + 1] = h.shell_quote(a) end
      local p = io.popen(table.concat(full, " ") .. " 2>&1; echo \"rc=$?\"")
      local out = p:read("a")
      p:close()
      assert.matches("rc=0\n$", out, nil, false)
      assert.is_nil(out:find("readonly database", 1, true), out)
    end
    os.execute("chmod 755 " .. h.shell_quote(dir))
  end)
end)
