-- The files `otarun init [DIR]` writes (docs/ci.md): an example rollout, a starter policy and its
-- test, editor set-up (.luarc.json and the LuaLS definitions of otarun.cli.docs.definitions), and CI
-- recipes for GitHub Actions and GitLab CI. The recipes' `otarun ...` lines are run by
-- spec/init_spec.lua against the emulator, so they are kept one command a line.
local definitions = require("otarun.cli.docs.definitions")

local M = {}

M.MARKER = "<!-- otarun-plan -->"
M.DEFINITIONS_DIR = ".otarun/definitions"

M.ROLLOUT = [[
-- An example rollout: camera firmware 2.4.0 in three waves chosen by source version. The canary
-- (10 devices a minute) must pass its health gate before "early" starts; the last wave waits a
-- day after that, starts only in a night-time window, and needs `otarun approve`.
-- The language: `man otarun` and docs/rollout.md of otarun; your editor completes it (.luarc.json).
--
--   otarun validate rollouts/*.lua
--   otarun plan rollouts/*.lua

rollout "camera-2.4.0" {
  product  = "a1Le6d0abcd",                  -- ProductKey
  region   = "cn-shanghai",
  firmware = firmware { id = "nx3xxVvFdwvn6dim50PY03", version = "2.4.0", size = "12MB", verified = true },

  defaults = {
    rate    = 500,                           -- devices per minute (MaximumPerMinute)
    retry   = { interval = 10, count = 2 },
    timeout = "24h",
    tags    = { channel = "stable" },
    gate    = { soak = "24h", min_devices = 50, min_success = 0.98, max_failed_ratio = 0.02 },
  },

  wave "canary" { versions = { "2.3.1" }, rate = 10,
                  gate = { soak = "6h", min_devices = 20, min_success = 0.99, max_failed = 2 } },
  wave "early"  { versions = { "2.3.1" }, rate = 100 },
  wave "all"    { versions = { "2.3.0", "2.3.1" }, rate = 5000, delay = "24h", approve = true,
                  window = { days = "mon-thu", from = "01:00", to = "05:00", tz = "+08:00" } },
}
]]

M.POLICY = [[
-- This repository's guardrails (policies/README.md of otarun): judged on every plan. "soft"
-- denies a plan (exit 4) unless `--override team.RULE --reason TEXT`; "hard" always denies.
policy "team" {
  level = "soft",
  description = "Every rollout is staged and gated, and starts slowly.",
  rules = {
    min_waves = 2,
    require_gate = true,
    require_timeout = true,
    max_first_wave_rate = 100,
  },
}
]]

M.POLICY_TEST = [[
-- Test cases of policies/team.lua: `otarun policy test policies`.
case "the example rollout passes" {
  now = "2026-12-01T00:00:00Z",
  script = "../../rollouts/camera.lua",
  expect = { ["team.min_waves"] = "pass", ["team.require_gate"] = "pass",
             ["team.max_first_wave_rate"] = "pass" },
  denied = false,
}

case "one wave at full speed is denied" {
  now = "2026-12-01T00:00:00Z",
  plan = { rollouts = { { name = "hotfix", product = "a1Le6d0abcd", region = "cn-shanghai",
    waves = { { name = "everyone", status = "ready", rate = 5000 } } } } },
  expect = { ["team.min_waves"] = "fail", ["team.max_first_wave_rate"] = "fail" },
  denied = true,
}
]]

M.GITIGNORE = [[
# otarun: the local state store and plan files (CI keeps its state in OTARUN_STATE)
.otarun/state.db*
plan.json
plan.md
]]

M.GITHUB = [[
# otarun on GitHub Actions (docs/ci.md): validate and plan every pull request and post the plan
# as one comment that is edited on each push; after merge, plan again, save it and apply exactly
# that plan; every 15 minutes, one tick of the staged rollouts. Settings: secrets
# ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET, and variable OTARUN_STATE (a
# postgres:// URL shared by every job; docs/state.md). The jobs run in the otarun image (Dockerfile).
name: otarun
on:
  pull_request:
  push:
    branches: [main]
  schedule:
    - cron: "*/15 * * * *"
concurrency: otarun-${{ github.ref }}
env:
  ALIBABA_CLOUD_ACCESS_KEY_ID: ${{ secrets.ALIBABA_CLOUD_ACCESS_KEY_ID }}
  ALIBABA_CLOUD_ACCESS_KEY_SECRET: ${{ secrets.ALIBABA_CLOUD_ACCESS_KEY_SECRET }}
  OTARUN_STATE: ${{ vars.OTARUN_STATE }}
jobs:
  plan:
    if: github.event_name == 'pull_request'
    runs-on: ubuntu-latest
    container: ${{ vars.OTARUN_IMAGE || 'otarun:latest' }}
    permissions:
      contents: read
      pull-requests: write
    steps:
      - uses: actions/checkout@v4
      - name: validate
        run: |
          otarun validate rollouts/*.lua
          otarun policy test policies
      - name: plan
        run: |
          otarun plan rollouts/*.lua --format markdown --out plan.json > plan.md || test $? -eq 4
      - name: sticky comment
        env:
          GH_TOKEN: ${{ secrets.GITHUB_TOKEN }}
          PR: ${{ github.event.pull_request.number }}
        run: |
          api="$GITHUB_API_URL/repos/$GITHUB_REPOSITORY/issues"
          body=$(printf '%s\n\n' '<!-- otarun-plan -->'; cat plan.md)
          id=$(curl -fsS -H "Authorization: Bearer $GH_TOKEN" "$api/$PR/comments?per_page=100" |
               jq -r '[.[] | select(.body | startswith("<!-- otarun-plan -->"))][0].id // empty')
          if [ -n "$id" ]; then
            jq -n --arg body "$body" '{body: $body}' | curl -fsS -X PATCH -H "Authorization: Bearer $GH_TOKEN" "$api/comments/$id" -d @- >/dev/null
          else
            jq -n --arg body "$body" '{body: $body}' | curl -fsS -X POST -H "Authorization: Bearer $GH_TOKEN" "$api/$PR/comments" -d @- >/dev/null
          fi
  apply:
    if: github.event_name == 'push'
    runs-on: ubuntu-latest
    container: ${{ vars.OTARUN_IMAGE || 'otarun:latest' }}
    steps:
      - uses: actions/checkout@v4
      - name: plan and apply the saved plan
        run: |
          otarun plan rollouts/*.lua --out plan.json
          otarun apply plan.json --auto-approve
  run:
    if: github.event_name == 'schedule'
    runs-on: ubuntu-latest
    container: ${{ vars.OTARUN_IMAGE || 'otarun:latest' }}
    steps:
      - uses: actions/checkout@v4
      - name: one tick of the staged rollouts
        run: |
          otarun run --once rollouts/*.lua
]]

M.GITLAB = [[
# otarun on GitLab CI (docs/ci.md): validate and plan every merge request and post the plan as one
# note that is edited on each push; after merge, plan again, save it and apply exactly that plan;
# a pipeline schedule runs one tick of the staged rollouts. CI/CD variables:
# ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET (masked), OTARUN_STATE (a
# postgres:// URL; docs/state.md), OTARUN_GITLAB_TOKEN (a project access token with api scope).
image:
  name: ${OTARUN_IMAGE}
  entrypoint: [""]          # the image's entrypoint is otarun; GitLab needs a shell
variables:
  OTARUN_IMAGE: otarun:latest

plan:
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
  script:
    - otarun validate rollouts/*.lua
    - otarun policy test policies
    - otarun plan rollouts/*.lua --format markdown --out plan.json > plan.md || test $? -eq 4
    - |
      api="$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID/notes"
      body=$(printf '%s\n\n' '<!-- otarun-plan -->'; cat plan.md)
      id=$(curl -fsS -H "PRIVATE-TOKEN: $OTARUN_GITLAB_TOKEN" "$api?per_page=100" |
           jq -r '[.[] | select(.body | startswith("<!-- otarun-plan -->"))][0].id // empty')
      if [ -n "$id" ]; then
        curl -fsS -X PUT -H "PRIVATE-TOKEN: $OTARUN_GITLAB_TOKEN" "$api/$id" --data-urlencode "body=$body" >/dev/null
      else
        curl -fsS -X POST -H "PRIVATE-TOKEN: $OTARUN_GITLAB_TOKEN" "$api" --data-urlencode "body=$body" >/dev/null
      fi
  artifacts:
    paths: [plan.json, plan.md]

apply:
  rules:
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE == "push"
  resource_group: otarun
  script:
    - otarun plan rollouts/*.lua --out plan.json
    - otarun apply plan.json --auto-approve

run:
  rules:
    - if: $CI_PIPELINE_SOURCE == "schedule"
  resource_group: otarun
  script:
    - otarun run --once rollouts/*.lua
]]

-- path (relative to the repository root) -> content
function M.files()
  return {
    ["rollouts/camera.lua"] = M.ROLLOUT,
    ["policies/team.lua"] = M.POLICY,
    ["policies/tests/team_test.lua"] = M.POLICY_TEST,
    [".luarc.json"] = definitions.luarc(M.DEFINITIONS_DIR),
    [M.DEFINITIONS_DIR .. "/otarun.lua"] = definitions.text(),
    [".github/workflows/otarun.yml"] = M.GITHUB,
    [".gitlab-ci.yml"] = M.GITLAB,
    [".gitignore"] = M.GITIGNORE,
  }
end

-- The `otarun ...` command lines of a CI recipe, in order (what spec/init_spec.lua runs).
function M.commands(recipe)
  local out = {}
  for line in recipe:gmatch("[^\n]+") do
    local cmd = line:match("^%s+%-? ?(otarun .*)$")
    if cmd then out[#out + 1] = cmd end
  end
  return out
end

return M
