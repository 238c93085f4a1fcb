-- mlb: marathon-lb's /_haproxy_get* endpoints on :9090, answered by mlb-reloader.
local reloader = os.getenv("MLB_RELOADER_URL") or "http://127.0.0.1:9103"
core.register_service("mlb_endpoints", "http", function(applet)
  local ok, res = pcall(function()
    return core.httpclient():get{url = reloader .. applet.path}
  end)
  local status, body = 502, "mlb-reloader unreachable at " .. reloader .. "\n"
  if ok and res and res.status and res.status > 0 then
    status, body = res.status, res.body or ""
  end
  applet:set_status(status)
  applet:add_header("content-type", "text/plain; charset=utf-8")
  applet:add_header("content-length", string.len(body))
  applet:add_header("cache-control", "no-store")
  applet:start_response()
  applet:send(body)
end)
