-- A small XML well-formedness checker for the specs (xmllint is not installed by default):
-- one root element, tags properly nested and closed, attributes quoted and not repeated, only
-- the five predefined entities and character references, no '<' or bare '&' in text.
local M = {}

local NAME = "[A-Za-z_:][%w_:.%-]*"

local function check_text(s, where)
  local pos = 1
  while true do
    local a = s:find("&", pos, true)
    if not a then break end
    local ent = s:match("^&([^;]*);", a)
    if not ent or not (ent == "amp" or ent == "lt" or ent == "gt" or ent == "quot" or ent == "apos"
        or ent:match("^#%d+$") or ent:match("^#x%x+$")) then
      return nil, "bad entity or bare & " .. where
    end
    pos = a + 1
  end
  if s:find("<", 1, true) then return nil, "'<' in text " .. where end
  return true
end

-- -> true, root element name, element count | nil, message
function M.check(text)
  local pos, stack, root, count = 1, {}, nil, 0
  local prolog = text:match("^<%?xml[^>]*%?>%s*")
  if prolog then pos = #prolog + 1 end
  while pos <= #text do
    local lt = text:find("<", pos, true)
    local chunk = text:sub(pos, (lt or #text + 1) - 1)
    if #stack == 0 and chunk:find("%S") then return nil, "text outside the root element at " .. pos end
    local ok, err = check_text(chunk, "at " .. pos)
    if not ok then return nil, err end
    if not lt then break end
    if text:sub(lt, lt + 3) == "<!--" then
      local e = text:find("-->", lt + 4, true)
      if not e then return nil, "unterminated comment" end
      pos = e + 3
    else
      local gt = text:find(">", lt, true)
      if not gt then return nil, "unterminated tag at " .. lt end
      local tag = text:sub(lt + 1, gt - 1)
      if tag:sub(1, 1) == "/" then
        local name = tag:match("^/(" .. NAME .. ")%s*$")
        if not name then return nil, "bad end tag <" .. tag .. ">" end
        local open = table.remove(stack)
        if open ~= name then return nil, string.format("</%s> closes <%s>", name, tostring(open)) end
      else
        local selfclose = tag:sub(-1) == "/"
        if selfclose then tag = tag:sub(1, -2) end
        local name, rest = tag:match("^(" .. NAME .. ")(.*)$")
        if not name then return nil, "bad start tag <" .. tag .. ">" end
        if #stack == 0 then
          if root then return nil, "a second root element <" .. name .. ">" end
          root = name
        end
        local seen = {}
        rest = rest:gsub("^%s+", "")
        while rest ~= "" do
          local an, q, rem = rest:match("^(" .. NAME .. ")%s*=%s*(['\"])(.*)$")
          if not an then return nil, "bad attribute in <" .. name .. ">: " .. rest:sub(1, 40) end
          local e = rem:find(q, 1, true)
          if not e then return nil, "unterminated attribute value in <" .. name .. ">" end
          local value = rem:sub(1, e - 1)
          ok, err = check_text(value, "in attribute " .. an)
          if not ok then return nil, err end
          if seen[an] then return nil, "attribute " .. an .. " repeated in <" .. name .. ">" end
          seen[an] = true
          rest = rem:sub(e + 1)
          if rest ~= "" and not rest:match("^%s") then return nil, "attributes of <" .. name .. "> need spaces between them" end
          rest = rest:gsub("^%s+", "")
        end
        count = count + 1
        if not selfclose then stack[#stack + 1] = name end
      end
      pos = gt + 1
    end
  end
  if #stack > 0 then return nil, "<" .. stack[#stack] .. "> is never closed" end
  if not root then return nil, "no root element" end
  return true, root, count
end

return M
