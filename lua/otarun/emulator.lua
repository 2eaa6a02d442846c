-- otarun.emulator: the host's module loader (src/host.c, cmake/embed.cmake) maps otarun.x.y to
-- lua/otarun/x/y.lua and knows no init.lua, so this names the emulator's constructor module.
return require("otarun.emulator.init")
