"""Zerogate's own cookies never reach an upstream: a small Lua filter takes them out of `Cookie`.

Browsers send every cookie of a host to every port of it, so an app served on the sign-in host
(`localhost` in `zerogate up`) would otherwise receive the single sign-on session itself, and
any app would receive the per-host gateway cookie. Envoy can add and remove whole headers but not
one cookie of a header, hence Lua (as Pomerium does). It runs after the check, which still sees
them; the decision-token cookies stay (the app's SDK may verify them).
"""

from __future__ import annotations

import re
from typing import Any

LUA_FILTER = "envoy.filters.http.lua"
COOKIE_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}")  # RFC 6265 token
_LUA = "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua"

# Most requests pay one plain `string.find` per name; a header that holds one of them is cut
# with one `gsub` per name (patterns anchored after ';', so `xzerogate_session=` is kept).
# HTTP/2 clients may send several `cookie` headers: each is filtered, an emptied one removed.
_SOURCE = """
local PLAIN = {%(plain)s}
local PATTERNS = {%(patterns)s}
local function strip(value)
  local hit = false
  for i = 1, #PLAIN do
    if string.find(value, PLAIN[i], 1, true) then hit = true break end
  end
  if not hit then return value end
  local v = ";" .. value
  for i = 1, #PATTERNS do v = string.gsub(v, PATTERNS[i], "") end
  return (string.gsub(v, "^;%%s*", ""))
end
function envoy_on_request(handle)
  local headers = handle:headers()
  local count = headers:getNumValues("cookie")
  if count == 0 then return end
  local values, changed = {}, false
  for i = 0, count - 1 do
    local value = headers:getAtIndex("cookie", i)
    local kept = strip(value)
    if kept ~= value then changed = true end
    if kept ~= "" then values[#values + 1] = kept end
  end
  if not changed then return end
  headers:remove("cookie")
  for _, value in ipairs(values) do headers:add("cookie", value) end
end
"""
_LUA_MAGIC = re.compile(r"[\^$()%.\[\]*+\-?]")


def build_cookie_strip(names: tuple[str, ...]) -> dict[str, Any]:
    """The Lua filter that removes the cookies `names` (validated tokens) from requests."""
    unique = sorted(set(names))
    plain = ", ".join(f'"{name}="' for name in unique)
    patterns = ", ".join(
        '";%s*' + _LUA_MAGIC.sub(lambda m: "%" + m.group(0), name) + '=[^;]*"' for name in unique
    )
    source = _SOURCE % {"plain": plain, "patterns": patterns}
    return {
        "name": LUA_FILTER,
        "typed_config": {"@type": _LUA, "default_source_code": {"inline_string": source}},
    }
