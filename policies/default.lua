-- otarun's default guardrails, applied to every rollout. Advisory: they warn in the plan and
-- never deny. Replace them with a policy named "default" in ./policies/ or a --policy DIR.
policy "default" {
  level = "advisory",
  description = "staged, gated rollouts with bounded timeouts and a modest first wave",
  rules = {
    min_waves = 2,                  -- a canary before everyone
    require_gate = true,            -- every wave but the last is judged before the next starts
    require_timeout = true,         -- a device stuck in upgrade gives up instead of waiting forever
    max_first_wave_rate = 1000,     -- devices notified per minute in the first wave
  },
}
