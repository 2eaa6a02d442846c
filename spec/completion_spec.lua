-- otarun completion: the bash script completes commands, options (the parser's own tables),
-- fixed values, and wave and rollout names read from the scripts on the line (run here in a real
-- bash); zsh and fish scripts name every command and option; otarun show renders a saved plan.
local h = require("helpers")
local commands = require("otarun.cli.docs.commands")

local EXAMPLE = h.src .. "/examples/version-waves.lua"

-- Completions bash offers for the words (the last one is being completed).
local function complete(script, words)
  local quoted = {}
  for i, w in ipairs(words) do quoted[i] = h.shell_quote(w) end
  local prog = string.format(
    'export PATH=%s:"$PATH"; source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _otarun; printf "%%s\\n" "${COMPREPLY[@]}"',
    h.shell_quote(h.bin:match("^(.*)/[^/]+$") or "."), h.shell_quote(script), table.concat(quoted, " "), #words - 1)
  local p = io.popen("bash -c " .. h.shell_quote(prog) .. " 2>&1")
  local out = p:read("a")
  p:close()
  local set = {}
  for line in out:gmatch("[^\n]+") do set[line] = true end
  return set, out
end

describe("otarun completion", function()
  local script
  setup(function()
    local code, out = h.run({ "completion", "bash" })
    assert.are.equal(0, code)
    script = h.write(os.tmpname(), out)
  end)
  teardown(function() os.remove(script) end)

  it("completes commands and each command's options", function()
    local got = complete(script, { "otarun", "pl" })
    assert.is_true(got.plan)
    got = complete(script, { "otarun", "" })
    for _, c in ipairs(commands.list()) do assert.is_true(got[c.name], c.name) end
    for _, c in ipairs(commands.list()) do
      if c.name ~= "lua" and c.name ~= "version" then
        got = complete(script, { "otarun", c.name, "--" })
        for _, o in ipairs(c.option_names) do assert.is_true(got[o], c.name .. " " .. o) end
        assert.is_true(got["--help"], c.name)
      end
    end
    got = complete(script, { "otarun", "plan", "--detailed" })
    assert.are.same({ ["--detailed-exitcode"] = true }, got)
  end)

  it("completes fixed values and names from the scripts given", function()
    assert.are.same({ json = true }, (complete(script, { "otarun", "plan", "--format", "j" })))
    assert.are.same({ canary = true, early = true, all = true },
      (complete(script, { "otarun", "abort", EXAMPLE, "--wave", "" })))
    assert.are.same({ canary = true }, (complete(script, { "otarun", "approve", EXAMPLE, "ca" })))
    assert.are.same({ ["camera-2.4.0"] = true }, (complete(script, { "otarun", "run", EXAMPLE, "--rollout", "" })))
    -- no script on the line: no names, no error
    assert.are.same({}, (complete(script, { "otarun", "abort", "--wave", "" })))
  end)

  it("prints names for scripts, and nothing for a script that does not load", function()
    local bad = h.script("this is not lua")
    local code, out = h.run({ "completion", "waves", EXAMPLE, bad })
    assert.are.equal(0, code)
    assert.are.equal("canary\nearly\nall\n", out)
    os.remove(bad)
  end)

  it("prints zsh and fish scripts naming every command and option", function()
    for _, shell in ipairs({ "zsh", "fish" }) do
      local code, out = h.run({ "completion", shell })
      assert.are.equal(0, code)
      for _, c in ipairs(commands.list()) do
        assert.is_truthy(out:find(c.name, 1, true), shell .. " " .. c.name)
        for _, o in ipairs(c.option_names) do
          assert.is_truthy(out:find(shell == "fish" and ("-l " .. o:sub(3)) or o, 1, true), shell .. " " .. o)
        end
      end
    end
    assert.are.equal(64, (h.run({ "completion", "tcsh" })))
    assert.are.equal(64, (h.run({ "completion" })))
  end)
end)

-- Runs a shell program with otarun's directory first on PATH. -> output
local function shell(cmd)
  local p = io.popen(string.format('PATH=%s:"$PATH" %s 2>&1', h.shell_quote(h.bin:match("^(.*)/[^/]+$") or "."), cmd))
  local out = p:read("a")
  p:close()
  return out
end

describe("otarun completion in zsh and fish (scripts/install-deps --test installs both)", function()
  it("completes commands, options and wave names in zsh", function()
    local _, text = h.run({ "completion", "zsh" })
    local script = h.write(os.tmpname(), text)
    -- zsh's completion builtins replaced by stubs that print what they are given
    local function complete(words, current, prefix)
      local prog = h.write(os.tmpname(), table.concat({
        "compdef() { : }",
        "compadd() { local a; for a in \"$@\"; do [[ $a == -- ]] && continue; print -r -- \"$a\"; done }",
        "_describe() { print -l -- \"${(@P)2}\" }",
        "_files() { print FILES }",
        "source " .. h.shell_quote(script),
        "words=(" .. words .. "); CURRENT=" .. current .. "; PREFIX=" .. h.shell_quote(prefix) .. "; _otarun",
      }, "\n"))
      local out = shell("zsh " .. h.shell_quote(prog))
      os.remove(prog)
      return out
    end
    assert.matches("plan:validate, check policies", complete("otarun pl", 2, "pl"), 1, true)
    -- zsh filters by the prefix itself: the script offers every option of the command
    local offered = "\n" .. complete("otarun plan --de", 3, "--de")
    for _, o in ipairs({ "--detailed-exitcode", "--out", "--override", "--format", "--help" }) do
      assert.is_truthy(offered:find("\n" .. o .. "\n", 1, true), o)
    end
    assert.are.equal("canary\nearly\nall\n", complete("otarun abort " .. h.shell_quote(EXAMPLE) .. " --wave ''", 5, ""))
    os.remove(script)
  end)

  it("completes commands, options, values and wave names in fish", function()
    local _, text = h.run({ "completion", "fish" })
    local script = h.write(os.tmpname(), text)
    local function complete(line)
      return shell("fish --no-config -c " .. h.shell_quote("source " .. script .. "; complete -C '" .. line .. "'"))
    end
    assert.matches("^plan\t", complete("otarun pl"))
    assert.are.equal("--detailed-exitcode\n", complete("otarun plan --det"))
    assert.are.equal("json\nmarkdown\ntext\n", complete("otarun plan --format "))
    assert.are.equal("all\ncanary\nearly\n", complete("otarun abort " .. EXAMPLE .. " --wave "))
    os.remove(script)
  end)
end)

describe("otarun show", function()
  it("renders a saved plan as text, markdown and json, and refuses what is not one", function()
    local dir = h.tmpdir()
    local plan = dir .. "/p.json"
    local code, text = h.run({ "plan", "--offline", "--now", "2026-12-01T00:00:00Z", "--out", plan, EXAMPLE })
    assert.are.equal(0, code)
    local _, md = h.run({ "plan", "--offline", "--now", "2026-12-01T00:00:00Z", "--format", "markdown", EXAMPLE })
    local c1, shown = h.run({ "show", plan })
    assert.are.equal(0, c1)
    assert.are.equal(text, shown)
    local c2, shown_md = h.run({ "show", "--format", "markdown", plan })
    assert.are.equal(0, c2)
    assert.are.equal(md, shown_md)
    local c3, _, err = h.run({ "show", EXAMPLE })
    assert.are.equal(1, c3)
    assert.matches("is not a saved plan", err, 1, true)
    assert.are.equal(1, (h.run({ "show", dir .. "/missing.json" })))
    assert.are.equal(64, (h.run({ "show" })))
    -- a saved plan given to plan is pointed at show, not read as Lua
    local c4, _, perr = h.run({ "plan", plan })
    assert.are.equal(64, c4)
    assert.matches("otarun show " .. plan, perr, 1, true)
    os.execute("rm -rf " .. h.shell_quote(dir))
  end)
end)
