-- The man page otarun.1 (roff), generated from the same source as --help (otarun.cli.docs.commands:
-- the command table, each command's HELP, the common options and the exit codes) plus a summary
-- of the rollout language from otarun.cli.docs.fields. The build writes it with `otarun docs --man`.
local commands = require("otarun.cli.docs.commands")
local pages = require("otarun.cli.docs.pages")
local fields = require("otarun.cli.docs.fields")
local append = require("otarun.util").append

local M = {}

-- Escapes text for roff: backslashes, and a leading dot or quote that roff would read as a request.
local function esc(s)
  s = tostring(s):gsub("\\", "\\e"):gsub("%-", "\\-")
  return (s:gsub("^([.'])", "\\&%1"):gsub("\n([.'])", "\n\\&%1"))
end

function M.text()
  local version = require("otarun.core.sys").version or "dev"
  local L = {
    '.TH OTARUN 1 "" "otarun ' .. esc(version) .. '" "User Commands"',
    ".SH NAME",
    "otarun \\- staged OTA firmware rollouts for Alibaba Cloud IoT Platform, as code",
    ".SH SYNOPSIS",
    ".B otarun",
    ".I COMMAND",
    "[\\fIOPTIONS\\fR] [\\fIARGS\\fR]",
    ".SH DESCRIPTION",
    "A rollout script (Lua) says which firmware goes to which devices, in which waves, at what rate,",
    "behind which health gates. otarun validates every platform constraint offline, checks",
    "organisation policies, prints a plan of the exact API calls, applies it with signed calls and",
    "drives the waves over days, halting when a gate trips.",
    ".SH COMMANDS",
  }
  local list = commands.list()
  for _, c in ipairs(list) do
    L[#L + 1] = ".TP"
    L[#L + 1] = "\\fBotarun " .. esc(c.name) .. "\\fR"
    L[#L + 1] = esc(c.summary) .. "."
  end
  L[#L + 1] = ".SH COMMON OPTIONS"
  for _, name in ipairs(commands.common_names()) do
    local h = commands.COMMON_HELP[name] or {}
    L[#L + 1] = ".TP"
    L[#L + 1] = "\\fB" .. esc(name) .. "\\fR" .. (h[1] and (" \\fI" .. esc(h[1]) .. "\\fR") or "")
    L[#L + 1] = esc(h[2] or "")
  end
  for _, c in ipairs(list) do
    L[#L + 1] = ".SH OTARUN " .. esc(c.name:upper())
    L[#L + 1] = ".nf"
    L[#L + 1] = esc((c.help:gsub("%s+$", "")))
    L[#L + 1] = ".fi"
  end
  L[#L + 1] = ".SH ROLLOUT LANGUAGE"
  L[#L + 1] = "Fields by table (docs/rollout.md has types, units, defaults, API parameters and examples):"
  for _, t in ipairs(fields.TABLES) do
    local names = {}
    for _, r in ipairs(pages.table_fields(t[1])) do names[#names + 1] = r.name end
    L[#L + 1] = ".TP"
    L[#L + 1] = "\\fB" .. esc(t[1]) .. "\\fR"
    L[#L + 1] = esc(table.concat(names, ", "))
  end
  L[#L + 1] = ".SH EXIT STATUS"
  for _, e in ipairs(commands.EXIT) do
    L[#L + 1] = ".TP"
    L[#L + 1] = "\\fB" .. e[1] .. "\\fR"
    L[#L + 1] = esc(e[2])
  end
  L[#L + 1] = ".SH ENVIRONMENT"
  for _, e in ipairs(commands.ENVIRONMENT) do
    L[#L + 1] = ".TP"
    L[#L + 1] = "\\fB" .. esc(e[1]) .. "\\fR"
    L[#L + 1] = esc(e[2])
  end
  append(L, ".SH FILES", ".TP", "\\fI.otarun/state.db\\fR",
    "the state store (jobs, wave transitions, gate readings, approvals, the audit log)", ".TP",
    "\\fI~/.aliyun/config.json\\fR", "credentials profiles of the aliyun CLI", ".TP",
    "\\fI/usr/share/otarun/definitions/otarun.lua\\fR",
    "LuaLS definitions of the rollout, policy and fleet languages (otarun init copies them)", ".SH SEE ALSO",
    "The reference in /usr/share/doc/otarun/ (docs/ of the source tree).", "")
  return table.concat(L, "\n")
end

return M
