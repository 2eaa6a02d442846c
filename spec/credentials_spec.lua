-- Credentials: environment first, then ~/.aliyun/config.json under a temporary HOME;
-- profile choice, modes AK and StsToken, clear errors, and a secret no printing can reach.
local credentials = require("otarun.platform.credentials")
local cjson = require("cjson")

local SECRET, TOKEN = "credSpecSecret0123456789", "credSpecToken-abcdef"

local function temp_home()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p '" .. dir .. "/.aliyun'"))
  return dir
end

local function write_config(home, config)
  local fh = assert(io.open(home .. "/.aliyun/config.json", "w"))
  fh:write(type(config) == "string" and config or cjson.encode(config))
  fh:close()
end

local function env(t)
  return function(name) return t[name] end
end

local CONFIG = {
  current = "dev",
  profiles = {
    { name = "dev", mode = "AK", access_key_id = "LTAIdevkey0001", access_key_secret = SECRET,
      region_id = "cn-shanghai" },
    { name = "prod", mode = "StsToken", access_key_id = "STS.prodkey0002",
      access_key_secret = SECRET, sts_token = TOKEN, region_id = "cn-beijing" },
    { name = "ram", mode = "RamRoleArn", access_key_id = "x", access_key_secret = "y" },
    { name = "half", mode = "AK", access_key_id = "LTAIhalf" },
  },
}

describe("otarun.platform.credentials", function()
  local home
  before_each(function() home = temp_home() end)
  after_each(function() os.execute("rm -rf '" .. home .. "'") end)

  it("takes the environment first, even when a profile exists", function()
    write_config(home, CONFIG)
    local c = assert(credentials.load{ getenv = env{ HOME = home,
      ALIBABA_CLOUD_ACCESS_KEY_ID = "LTAIenvkey1234", ALIBABA_CLOUD_ACCESS_KEY_SECRET = SECRET } })
    assert.are.equal("LTAIenvkey1234", c.access_key_id)
    assert.are.equal(SECRET, c:secret())
    assert.are.equal("AK", c.mode)
    assert.are.equal("environment", c.source)
    assert.is_nil(c:security_token())
  end)

  it("uses ALIBABA_CLOUD_SECURITY_TOKEN from the environment as an STS token", function()
    local c = assert(credentials.load{ getenv = env{ ALIBABA_CLOUD_ACCESS_KEY_ID = "STS.k",
      ALIBABA_CLOUD_ACCESS_KEY_SECRET = SECRET, ALIBABA_CLOUD_SECURITY_TOKEN = TOKEN } })
    assert.are.equal(TOKEN, c:security_token())
    assert.are.equal("StsToken", c.mode)
  end)

  it("refuses half a key pair in the environment", function()
    local c, err = credentials.load{ getenv = env{ HOME = home, ALIBABA_CLOUD_ACCESS_KEY_ID = "x" } }
    assert.is_nil(c)
    assert.matches("ALIBABA_CLOUD_ACCESS_KEY_SECRET is not", err)
    c, err = credentials.load{ getenv = env{ HOME = home, ALIBABA_CLOUD_ACCESS_KEY_SECRET = SECRET } }
    assert.is_nil(c)
    assert.matches("ALIBABA_CLOUD_ACCESS_KEY_ID is not", err)
    assert.is_nil(err:find(SECRET, 1, true))
  end)

  it("reads the file's current profile, with its region", function()
    write_config(home, CONFIG)
    local c = assert(credentials.load{ getenv = env{ HOME = home } })
    assert.are.equal("LTAIdevkey0001", c.access_key_id)
    assert.are.equal("cn-shanghai", c.region)
    assert.are.equal("profile dev in " .. home .. "/.aliyun/config.json", c.source)
  end)

  it("prefers --profile, then ALIBABA_CLOUD_PROFILE, to the current profile", function()
    write_config(home, CONFIG)
    local c = assert(credentials.load{ profile = "prod",
      getenv = env{ HOME = home, ALIBABA_CLOUD_PROFILE = "dev" } })
    assert.are.equal("STS.prodkey0002", c.access_key_id)
    assert.are.equal(TOKEN, c:security_token())
    assert.are.equal("StsToken", c.mode)
    assert.are.equal("cn-beijing", c.region)
    c = assert(credentials.load{ getenv = env{ HOME = home, ALIBABA_CLOUD_PROFILE = "prod" } })
    assert.are.equal("STS.prodkey0002", c.access_key_id)
  end)

  it("falls back to the profile named default when current is unset", function()
    write_config(home, { profiles = { { name = "default", mode = "AK", access_key_id = "LTAIdefault1",
      access_key_secret = SECRET } } })
    assert.are.equal("LTAIdefault1", assert(credentials.load{ getenv = env{ HOME = home } }).access_key_id)
  end)

  it("explains every failure, naming what was looked for", function()
    local c, err = credentials.load{ getenv = env{ HOME = home } }
    assert.is_nil(c)
    assert.matches("ALIBABA_CLOUD_ACCESS_KEY_ID", err)
    assert.matches(home .. "/.aliyun/config.json: not found", err, 1, true)
    write_config(home, CONFIG)
    c, err = credentials.load{ profile = "nope", getenv = env{ HOME = home } }
    assert.is_nil(c)
    assert.matches("no profile nope in .* %(profiles: dev, prod, ram, half%)", err)
    c, err = credentials.load{ profile = "ram", getenv = env{ HOME = home } }
    assert.matches("mode RamRoleArn is not supported %(supported: AK, StsToken%)", err)
    c, err = credentials.load{ profile = "half", getenv = env{ HOME = home } }
    assert.matches("profile half in .*: access_key_id and access_key_secret must both be set", err)
    write_config(home, "{ not json")
    c, err = credentials.load{ getenv = env{ HOME = home } }
    assert.is_nil(c)
    assert.matches("config.json is not valid JSON", err)
    c, err = credentials.load{ getenv = env{} }
    assert.matches("HOME is not set", err)
  end)

  it("keeps the secret and token out of tostring, JSON and describe()", function()
    write_config(home, CONFIG)
    local c = assert(credentials.load{ profile = "prod", getenv = env{ HOME = home } })
    for _, text in ipairs({ tostring(c), cjson.encode(c), c:describe() }) do
      assert.is_nil(text:find(SECRET, 1, true))
      assert.is_nil(text:find(TOKEN, 1, true))
    end
    assert.matches("^STS%.%*%*%*%*0002 %(StsToken, from profile prod in ", c:describe())
    assert.are.equal("LTAI****abcd", credentials.mask("LTAI5tXyzabcd"))
    assert.are.equal("****", credentials.mask("short"))
  end)
end)
