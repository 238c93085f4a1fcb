-- mlb: marathon-lb's endpoints on :9090, answered by the binary that owns each:
--   /_haproxy_get*          mlb-reloader (the live bundle, this instance's pids)
--   /haproxy?stats;csv      mlb-reloader (HAProxy's CSV in the 2.0 shape marathon-lb's tools parse)
--   /_mlb_signal/usr1       mlb-reloader (reload HAProxy with the live bundle)
--   /_mlb_signal/hup        mlb-controller (fetch from Marathon and regenerate)
local reloader = os.getenv("MLB_RELOADER_URL") or "http://127.0.0.1:9103"
local controller = os.getenv("MLB_CONTROLLER_URL") or "http://127.0.0.1:9102"

-- Exactly these public paths, each to its upstream; anything else answers 404 (a
-- path is never passed on as it came).
local routes = {
  ["/_haproxy_getconfig"] = reloader .. "/_haproxy_getconfig",
  ["/_haproxy_getvhostmap"] = reloader .. "/_haproxy_getvhostmap",
  ["/_haproxy_getappmap"] = reloader .. "/_haproxy_getappmap",
  ["/_haproxy_getpids"] = reloader .. "/_haproxy_getpids",
  ["/haproxy"] = reloader .. "/_haproxy_stats_csv",
  ["/_mlb_signal/usr1"] = reloader .. "/_mlb_signal/usr1",
  ["/_mlb_signal/hup"] = controller .. "/_mlb_signal/hup",
}

core.register_service("mlb_endpoints", "http", function(applet)
  local url = routes[applet.path]
  local status, body = 404, "not found\n"
  if url then
    local ok, res = pcall(function()
      return core.httpclient():get{url = url}
    end)
    status, body = 502, "unreachable: " .. url .. "\n"
    if ok and res and res.status and res.status > 0 then
      status, body = res.status, res.body or ""
    end
  end
  applet:set_status(status)
  applet:add_header("content-type", "text/plain; charset=utf-8")
  applet:add_header("content-length", string.len(body))
  applet:add_header("cache-control", "no-store")
  applet:start_response()
  applet:send(body)
end)
