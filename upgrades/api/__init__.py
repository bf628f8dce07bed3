"""The obshell-compatible API (spec sections 1-7): routes in urls.py, views in views_*.py, the envelope in
envelope.py/middleware.py, DTOs in dto.py. Authentication lives in upgrades.security.

Decisions where obshell gives no answer or where this server goes beyond it:
* /api/schema serves the plain OpenAPI 3 document (not enveloped), so OpenAPI tools can read it.
* A token is the password and selects its cluster. Under /clusters/<name>/api/v1/... a token of another
  cluster is a wrong password (401 Security.Authentication.IncorrectOceanbasePassword, code 10008); an
  unknown <name> is 404 Common.NotFound for open routes and session users.
* X-OCS-Agent-Header is read like X-OCS-Header (this server has no agent password: `security` is false),
  so it also carries a token; obshell would accept it with no password check at all.
* A replayed header (seen before within its lifetime) is 401 Common.Unauthorized, code 10008.
* Browser sessions: viewer for GET, operator for POST/DELETE, CSRF on unsafe methods; a missing role is 401
  Security.User.PermissionDenied (obshell never sends 403). Without the /clusters/<name>/ prefix a session
  sees every cluster's DAGs and cannot start upgrades (400 Request.Path.Param.Empty).
* DELETE /api/v1/upgrade/package/:id: a non-numeric id is 400 Common.IllegalArgument, an unknown one 404
  Common.NotFound, a package an unfinished DAG needs 500 OB.Package.InUse (obshell's conflicts are 500).
* JSON bodies are limited to DATA_UPLOAD_MAX_MEMORY_SIZE (400 Common.BindJsonFailed beyond it); uploads are
  streamed to disk whatever their size.
* Agent-local task ids (prefixes 2-5) are well-formed but name nothing here: 404 Task.NotFound.
"""
