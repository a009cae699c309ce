-- Argo CD health of a modelregistry.io ModelVersion (docs/gitops.md).
-- Reads the operator's kstatus conditions, and only once the operator has
-- observed the current spec. Argo CD runs a health check from argocd-cm in
-- gopher-lua (Lua 5.1) with only the base, table and a safe os library
-- loaded: no string library here.
local hs = {}
local generation = obj.metadata.generation

local function health(status, message)
  hs.status = status
  hs.message = message
  return hs
end

local function waiting(detail)
  return health("Progressing", "Waiting for the operator to observe generation "
    .. tostring(generation) .. " (" .. detail .. ").")
end

-- What a condition says, for the message.
local function said(condition)
  return condition.message or condition.reason or condition.type
end

if obj.status == nil then
  return waiting("no status yet")
end

local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  return waiting("status is of generation " .. tostring(observed))
end

local found = {}
for _, condition in ipairs(obj.status.conditions or {}) do
  -- A condition written for an older spec says nothing about this one.
  local seen = condition.observedGeneration
  if generation ~= nil and seen ~= nil and seen < generation then
    return waiting(tostring(condition.type) .. " is of generation " .. tostring(seen))
  end
  found[condition.type] = condition
end

local stalled = found["Stalled"]
if stalled ~= nil and stalled.status == "True" then
  return health("Degraded", said(stalled))
end
local reconciling = found["Reconciling"]
if reconciling ~= nil and reconciling.status == "True" then
  return health("Progressing", said(reconciling))
end

local ready = found["Ready"]
if ready == nil then
  return health("Progressing", "Waiting for the operator to report Ready.")
end
if ready.status == "Unknown" then
  return health("Progressing", said(ready))
end
if ready.status ~= "True" then
  return health("Degraded", said(ready))
end

-- A Ready version serves at its granted stage; StageGranted does not make it
-- un-Ready. Only a stage that waits for a person's approval gets a state of
-- its own.
local granted = found["StageGranted"]
if granted ~= nil and granted.status == "False" and granted.reason == "ApprovalRequired" then
  return health("Suspended", said(granted))
end
if granted ~= nil then
  return health("Healthy", said(ready) .. " " .. said(granted))
end
return health("Healthy", said(ready))
