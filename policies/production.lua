-- otarun's production guardrails. They apply only to rollouts named for production:
-- "prod-*", "*-prod" or "*-production" (rename a rollout, or replace these policies by name in
-- ./policies/, to change that). "production" is soft: a failure denies the plan unless overridden
-- with --override production.RULE --reason TEXT. "production-freeze" is hard: no wave starts in
-- the year-end change freeze, whatever the reason.
local PRODUCTION = { "prod-*", "*-prod", "*-production" }

policy "production" {
  level = "soft",
  description = "small gated canary, soaked waves, approvals for wide waves, retries and timeouts",
  applies = { rollouts = PRODUCTION },
  rules = {
    min_waves = 3,
    max_first_wave_rate = 100,
    max_percent_first_wave = 5,          -- a percent, device list or group; not a whole version
    max_rate = 5000,
    require_gate = true,
    min_soak = "12h",
    require_timeout = true,
    require_retry = true,
    require_approval = { beyond_percent = 50 },
  },
  -- Jobs must carry otarun's identity tag, so a crashed apply can find them again (docs/architecture.md, "The journal").
  check = function(plan, report)
    for _, r in ipairs(plan.rollouts) do
      for _, w in ipairs(r.waves) do
        if w.spec and w.spec.identity_tag == nil and (w.status == "waiting" or w.status == "ready") then
          report:fail("identity-tag", "wave \"" .. w.name .. "\" has no otarun identity tag; " ..
            "remove identity = false from the rollout", { rollout = r, wave = w })
        end
      end
    end
  end,
}

policy "production-freeze" {
  level = "hard",
  description = "no production wave starts during the year-end change freeze",
  applies = { rollouts = PRODUCTION },
  rules = {
    freeze = { { from = "12-20", to = "01-03", tz = "+08:00", reason = "year-end change freeze" } },
  },
}
