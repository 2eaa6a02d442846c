-- Runs spec/conformance/conformance.js: Alibaba's official Node SDKs (@alicloud/iot20180120 with V3
-- and v1 signatures, @alicloud/pop-core with GET and POST) against the real `otarun emulator`.
-- scripts/test installs the pinned packages with `npm ci` before the suite runs.
local helpers = require("helpers")

describe("conformance with the official Node SDKs", function()
  it("passes every check of conformance.js", function()
    local dir = helpers.src .. "/spec/conformance"
    local fh = io.open(dir .. "/node_modules/@alicloud/iot20180120/package.json", "r")
    assert(fh, "the conformance packages are not installed: run `npm ci` in spec/conformance "
      .. "(scripts/test does it when package-lock.json is there)")
    fh:close()
    local out = os.tmpname()
    local cmd = string.format("OTARUN_BIN=%s node %s >%s 2>&1", helpers.shell_quote(helpers.bin),
      helpers.shell_quote(dir .. "/conformance.js"), helpers.shell_quote(out))
    local _, _, code = os.execute(cmd)
    local text = helpers.slurp(out)
    os.remove(out)
    assert.are.equal(0, code, text)
    assert.truthy(text:find("%d+ passed, 0 failed"), text)
  end)
end)
