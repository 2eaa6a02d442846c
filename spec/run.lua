-- Runs busted specs inside the otarun binary: `otarun lua spec/run.lua [busted args] FILE...`.
-- Spec helpers live in spec/helpers.lua (put on package.path here).
local here = arg[0]:match("^(.*)/[^/]*$") or "."
package.path = here .. "/?.lua;" .. package.path
require("busted.runner")({ standalone = false })
